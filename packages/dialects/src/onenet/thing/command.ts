import { err, type Limits, ok, type Result } from "@umbra/core";
import type { DeviceId } from "../../device.js";
import type { CommandRefusal, DeviceCommand } from "../../dialect.js";
import type { OutboundText, ShadowEvent } from "../../events.js";
import { type ThingErrorCode, thingErrorCode } from "./codes.js";
import {
  readThingDesiredDelete,
  readThingDesiredGet,
  readThingPropertyPost,
  type ThingRefusal,
} from "./payload.js";
import { renderThingDesiredGetReply, renderThingError, renderThingSuccess } from "./render.js";
import { thingDesiredData, thingDesiredDeletion, thingReportedUpdate } from "./shadow.js";
import { parseThingToken, type ThingUpload, thingToken, thingUploadReplyTopic } from "./topics.js";

/**
 * The thing-model uploads the shard runs (the rest — events, batches, history — the edge
 * handles): `property/post` as a device report with each property's time,
 * `property/desired/get` as a read of the properties named, `property/desired/delete` as
 * a write built from the document the actor holds. The command's token is
 * `thingToken(upload, null)`; its events carry `thingToken(upload, id)`, from which the
 * reply service renders `…/reply`.
 */
const refused = (upload: ThingUpload, refusal: ThingRefusal): Result<never, CommandRefusal> =>
  err({ error: refusal.error, code: refusal.code, clientToken: thingToken(upload, refusal.id) });

export const readThingCommand = (
  payload: Uint8Array,
  limits: Limits,
  token: string | undefined,
): Result<DeviceCommand, CommandRefusal> | undefined => {
  const parsed = token === undefined ? undefined : parseThingToken(token);
  if (parsed === undefined) return undefined;
  const { upload } = parsed;
  switch (upload) {
    // A pack entry (the edge split a `pack/post` by device) is that device's property post.
    case "pack/post":
    case "property/post": {
      const post = readThingPropertyPost(payload, limits);
      if (!post.ok) return refused(upload, post.error);
      return ok({
        op: "update",
        update: thingReportedUpdate(post.value),
        clientToken: thingToken(upload, post.value.id),
      });
    }
    case "property/desired/get": {
      const get = readThingDesiredGet(payload, limits);
      if (!get.ok) return refused(upload, get.error);
      return ok({
        op: "get",
        clientToken: thingToken(upload, get.value.id),
        select: get.value.identifiers,
      });
    }
    case "property/desired/delete": {
      const deletion = readThingDesiredDelete(payload, limits);
      if (!deletion.ok) return refused(upload, deletion.error);
      const { entries } = deletion.value;
      return ok({
        op: "derived",
        updateFrom: (doc) => thingDesiredDeletion(doc, entries).update,
        clientToken: thingToken(upload, deletion.value.id),
      });
    }
    default:
      return undefined;
  }
};

/**
 * `…/reply` for a thing upload's event, or `false` when the event is not one (its token
 * is no thing token): the OneNET image renders it then. A read or a delete of a device
 * with no shadow yet is a success with nothing in it — it has no desired values.
 */
export const renderThingAnswer = (
  event: ShadowEvent,
  device: DeviceId,
  out: OutboundText[],
): boolean => {
  const token = event.clientToken;
  if (token === undefined) return false;
  const parsed = parseThingToken(token);
  if (parsed === undefined) return false;
  const { upload, id } = parsed;
  // A pack entry: the edge answers the pack itself, once, when every entry is in.
  if (upload === "pack/post") return true;
  const topic = thingUploadReplyTopic(device, upload);
  if (event.kind === "rejected") {
    const empty = event.error._tag === "ShadowNotFound" && upload !== "property/post";
    if (empty && id !== null)
      out.push({
        topic,
        body:
          upload === "property/desired/get"
            ? renderThingDesiredGetReply(id, {})
            : renderThingSuccess(id),
      });
    // The reader's code when it refused, else the engine error's.
    else
      out.push({
        topic,
        body: renderThingError(
          id,
          (event.code as ThingErrorCode | undefined) ?? thingErrorCode(event.error),
        ),
      });
    return true;
  }
  if (id === null) return true;
  if (upload === "property/desired/get" && event.kind === "document")
    out.push({
      topic,
      body: renderThingDesiredGetReply(id, thingDesiredData(event.document, event.select ?? [])),
    });
  else out.push({ topic, body: renderThingSuccess(id) });
  return true;
};
