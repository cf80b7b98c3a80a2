import {
  ALIYUN_ERROR_MESSAGES,
  type AliyunErrorCode,
  aliyunErrorCode,
  encodeJson,
  err,
  ok,
  ShadowErrors,
} from "@umbra/core";
import { claimOf, type DeviceDialect, SUBACK_FAILURE } from "../dialect.js";
import type { RejectedEvent } from "../events.js";
import { authenticateAliyun, recogniseAliyun } from "./auth.js";
import { readAliyunRequest } from "./payload.js";
import {
  renderAliyunControl,
  renderAliyunErrorCode,
  renderAliyunGetReply,
  renderAliyunReply,
} from "./render.js";
import { aliyunGetTopic, parseAliyunTopic } from "./topics.js";

/** The table's code: the reader's own, or the engine error's. */
const codeOf = (event: RejectedEvent): AliyunErrorCode => {
  const code = event.code ?? aliyunErrorCode(event.error);
  return code in ALIYUN_ERROR_MESSAGES ? (code as AliyunErrorCode) : 500;
};

/**
 * The Alibaba Cloud shadow dialect (seed 002, DIALECTS.md §3): sign authentication,
 * requests on `/shadow/update/{pk}/{dn}` whose `method` names the operation, answers
 * and `control` on `/shadow/get/{pk}/{dn}`.
 */
export const aliyunDialect: DeviceDialect = {
  name: "aliyun",

  recognise: (clientId, username) =>
    claimOf("aliyun", recogniseAliyun(clientId, username), (c, password, key) =>
      authenticateAliyun(c, password, key),
    ),

  parseTopic(topic) {
    const t = parseAliyunTopic(topic);
    // Devices publish requests only; `/shadow/get/…` is the cloud's.
    if (t === undefined || t.kind !== "update") return undefined;
    return {
      kind: "command",
      dialect: "aliyun",
      device: { productId: t.productId, deviceName: t.deviceName },
      op: "request",
    };
  },

  subscribeVerdict(filter, requestedQos, mayUse) {
    // `/shadow/…`, and the `/sys/…` and `/ext/…` filters the SDK subscribes on connect.
    if (filter[0] !== "/") return undefined;
    const t = parseAliyunTopic(filter);
    if (t === undefined || t.kind !== "get" || !mayUse(t)) return SUBACK_FAILURE;
    return requestedQos === 0 ? 0 : 1;
  },

  readCommand(op, payload, limits) {
    if (op !== "request")
      return err({ error: ShadowErrors.invalidParameter("/op", `not an Alibaba request: ${op}`) });
    const request = readAliyunRequest(payload, limits);
    if (!request.ok)
      return err({
        error: ShadowErrors.invalidParameter("/", request.error.detail),
        code: request.error.code,
      });
    if (request.value.method === "get") return ok({ op: "get" });
    // `delete` removes the properties it names: an update whose leaves are null.
    return ok({ op: "update", update: request.value.update });
  },

  renderAnswer(event, device, out, _json, nowMs) {
    const topic = aliyunGetTopic(device);
    switch (event.kind) {
      case "accepted":
        out.push({ topic, body: encodeJson(renderAliyunReply(event.version, event.timestamp)) });
        return;
      case "rejected":
        out.push({ topic, body: encodeJson(renderAliyunErrorCode(codeOf(event), nowMs)) });
        return;
      case "document":
        out.push({
          topic,
          body: encodeJson(renderAliyunGetReply(event.document, event.timestamp)),
        });
        return;
    }
  },

  renderPush(event, device, out) {
    // Desired changed by someone else: the whole document, as `control`.
    if (event.kind !== "accepted" || event.document === undefined || event.desiredUnchanged) return;
    out.push({
      topic: aliyunGetTopic(device),
      body: encodeJson(renderAliyunControl(event.document, event.timestamp)),
    });
  },
};
