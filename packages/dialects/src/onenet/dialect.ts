import { err, ok, parseUpdatePayload, ShadowErrors } from "@umbra/core";
import { topicMatches } from "../acl.js";
import { type DeviceId, nameProblem, usernameIdentity } from "../device.js";
import { type Claim, type DeviceDialect, SUBACK_FAILURE } from "../dialect.js";
import { gatewayReplyOf } from "./gateway.js";
import { renderOneNetAnswer, renderOneNetPush } from "./render.js";
import { readThingCommand, renderThingAnswer } from "./thing/command.js";
import {
  type ThingUpload,
  thingRequestOf,
  thingSubscribeVerdict,
  thingToken,
} from "./thing/topics.js";
import { verifyOneNetToken } from "./token.js";
import { ONENET_IMAGE, oneNetRequestOf, oneNetTopic, parseOneNetTopic } from "./topics.js";

const SYS = "$sys/";

/** The thing uploads the edge handles itself (`TopicRequest` kind `thing-upload`). */
const isEdgeUpload = (upload: ThingUpload): upload is "event/post" | "pack/post" | "history/post" =>
  upload === "event/post" || upload === "pack/post" || upload === "history/post";

const noWildcard = (name: string): boolean => !name.includes("+") && !name.includes("#");

/**
 * The OneNET device image dialect (seed 000), with gateways' call replies (seed 003) and
 * devices' replies to thing-model calls made to them.
 * Its CONNECT form — client id = device name, username = product id, password = a
 * device token — is also the fallback: the registry asks it last.
 */
export const oneNetDialect: DeviceDialect = {
  name: "onenet",

  recognise(clientId, username) {
    const clientProblem = nameProblem("client id (device name)", clientId);
    if (clientProblem !== undefined) return { ok: false, reason: clientProblem, badClientId: true };
    const productId = usernameIdentity(username);
    if (productId === "") return { ok: false, reason: "username (product id) missing" };
    const productProblem = nameProblem("username (product id)", productId);
    if (productProblem !== undefined) return { ok: false, reason: productProblem };
    const identity: DeviceId = { productId, deviceName: clientId };
    const claim: Claim = {
      ok: true,
      dialect: "onenet",
      identity,
      verify: (password, key, nowMs) => {
        const problem = verifyOneNetToken(
          Buffer.from(password).toString("utf8"),
          identity,
          key,
          Math.floor(nowMs / 1000),
        );
        return problem === undefined ? undefined : `token ${problem}`;
      },
    };
    return claim;
  },

  parseTopic(topic) {
    const parsed = parseOneNetTopic(topic);
    if (parsed === undefined) return undefined;
    const op = oneNetRequestOf(parsed.suffix);
    if (op !== undefined) return { kind: "command", dialect: "onenet", device: parsed.device, op };
    const call = gatewayReplyOf(parsed.suffix);
    if (call !== undefined) return { kind: "gateway-reply", device: parsed.device, call };
    const thing = thingRequestOf(parsed.suffix);
    if (thing?.kind === "upload") {
      // Event and history uploads write no shadow and a pack names several devices: the
      // edge handles them; the rest are the device's own shadow requests, for its shard.
      if (isEdgeUpload(thing.upload))
        return { kind: "thing-upload", device: parsed.device, upload: thing.upload };
      return {
        kind: "command",
        dialect: "onenet",
        device: parsed.device,
        op: "request",
        token: thingToken(thing.upload, null),
      };
    }
    // A device answering a call made to itself (thing model `…_reply`): forwarded as a
    // gateway's reply is, told apart by `direct`.
    if (thing?.kind === "call-reply")
      return { kind: "gateway-reply", device: parsed.device, call: { direct: thing.call } };
    return { kind: "none", device: parsed.device };
  },

  subscribeVerdict(filter, qos, mayUse) {
    if (!filter.startsWith(SYS)) return undefined;
    // A thing-model filter must reach a topic the cloud sends there (a reply, a call).
    const thing = thingSubscribeVerdict(filter, qos, mayUse);
    if (thing !== undefined) return thing;
    // The device part must be spelled out: a wildcard there could reach other devices.
    const parsed = parseOneNetTopic(filter);
    if (
      parsed === undefined ||
      !noWildcard(parsed.device.productId) ||
      !noWildcard(parsed.device.deviceName) ||
      !mayUse(parsed.device)
    )
      return SUBACK_FAILURE;
    // Every cloud → device message of the image is QoS 0.
    return 0;
  },

  syncOnSubscribe(device, filters) {
    const deltaTopic = oneNetTopic(device, ONENET_IMAGE.updateDelta);
    return filters.some((filter) => topicMatches(filter, deltaTopic));
  },

  readCommand(op, payload, limits, token) {
    if (op === "get") return ok({ op: "get" });
    if (op === "request") {
      const thing = readThingCommand(payload, limits, token);
      if (thing !== undefined) return thing;
    }
    if (op !== "update")
      return err({ error: ShadowErrors.invalidParameter("/op", `not a OneNET request: ${op}`) });
    const patch = parseUpdatePayload(payload, limits);
    if (!patch.ok) return err({ error: patch.error });
    // One literal shape for every update: the engine's hot path depends on it.
    return ok({
      op: "update",
      update: { desired: patch.value.desired, reported: patch.value.reported, source: "device" },
    });
  },

  renderAnswer(event, device, out, json) {
    // A thing upload's event carries a thing token (the image's carry none).
    if (event.clientToken !== undefined && renderThingAnswer(event, device, out)) return;
    renderOneNetAnswer(event, device, out, json);
  },
  renderPush: renderOneNetPush,
};
