import type {
  AcceptedEvent,
  CommandHeader,
  FunctionCommand,
  RejectedEvent,
  ShadowEvent,
} from "@umbra/bus";
import {
  applyTwinPatch,
  applyTwinReported,
  applyUpdate,
  createShadow,
  epochOf,
  expireBeforeWrite,
  expireFunctionCalls,
  getFunctionCall,
  isObject,
  type JsonObject,
  type Limits,
  metadataOf,
  parseJsonPayload,
  queueFunctionCall,
  readStatePatch,
  type ShadowDocument,
  type ShadowError,
  ShadowErrors,
  type UpdateRequest,
  type VersionRule,
  type WriteResult,
} from "@umbra/core";
import { type DeviceId, type DeviceOp, dialectNamed } from "@umbra/dialects";

/** What one command did to a document: the new document (if it changed) and the event. */
export interface CommandOutcome {
  readonly doc: ShadowDocument | undefined;
  readonly changed: boolean;
  readonly event: ShadowEvent;
}

/**
 * A deleted shadow as stored: an empty document marked `deleted`, at the version after
 * the last one and in the same epoch. Reads find no shadow; the next write starts an
 * empty shadow that goes on from that (epoch, version), so an ETag taken before the
 * delete never matches what comes after.
 * (The actor stores what `runCommand` returns; removing the record instead is the
 * store's `delete`, once the actor calls it for a deleting outcome.)
 */
export type Tombstone = ShadowDocument & { readonly deleted: true };

export const isTombstone = (doc: ShadowDocument | undefined): doc is Tombstone =>
  doc !== undefined && (doc as Partial<Tombstone>).deleted === true;

/** The live document, or `undefined` when there is none (never stored, or deleted). */
const live = (doc: ShadowDocument | undefined): ShadowDocument | undefined =>
  isTombstone(doc) ? undefined : doc;

/**
 * The document a write starts from: the live one, or an empty one after any tombstone.
 * Function calls past their deadline time out, and finished calls past their retention
 * go, as part of the write (seed 001: expired calls are cleaned up).
 */
const base = (
  doc: ShadowDocument | undefined,
  device: DeviceId,
  now: number,
  limits: Limits,
): ShadowDocument => {
  if (doc !== undefined && !isTombstone(doc)) return expireBeforeWrite(doc, { now, limits });
  const fresh = createShadow(device.productId, device.deviceName, now);
  if (doc === undefined) return fresh;
  return doc.epoch === undefined
    ? { ...fresh, version: doc.version }
    : { ...fresh, version: doc.version, epoch: doc.epoch };
};

/**
 * The tombstone of `current`: the version after its own, or, for a shadow an Alibaba
 * device moved to the largest safe version, version 0 in the next epoch (a stored
 * version must be an exact integer; the pair still never repeats).
 */
const tombstoneOf = (current: ShadowDocument, device: DeviceId, now: number): Tombstone => {
  const fresh = createShadow(device.productId, device.deviceName, now);
  const epoch = epochOf(current);
  if (current.version < Number.MAX_SAFE_INTEGER)
    return epoch === 0
      ? { ...fresh, version: current.version + 1, deleted: true }
      : { ...fresh, version: current.version + 1, epoch, deleted: true };
  return { ...fresh, version: 0, epoch: epoch + 1, deleted: true };
};

/**
 * A cloud caller's `"version"`: the version the shadow must be at (If-Match), and its
 * `"epoch"` when given (the API's ETag names it: a version alone repeats after an
 * Alibaba reset).
 */
const expectedVersion = (
  header: CommandHeader,
  body: unknown,
): VersionRule | ShadowError | undefined => {
  if (header.source !== "cloud" || !isObject(body) || body.version === undefined) return undefined;
  const version = body.version;
  if (typeof version !== "number" || !Number.isSafeInteger(version) || version < 0)
    return ShadowErrors.invalidVersion("the expected version must be a non-negative integer");
  const epoch = body.epoch;
  if (epoch === undefined) return { kind: "expected", version };
  if (typeof epoch !== "number" || !Number.isSafeInteger(epoch) || epoch < 0)
    return ShadowErrors.invalidVersion("the expected epoch must be a non-negative integer");
  return { kind: "expected", version, epoch };
};

const isRule = (value: VersionRule | ShadowError | undefined): value is VersionRule =>
  value !== undefined && "kind" in value;

/**
 * Runs one command against the document as it stands (pure: the clock is an argument,
 * nothing is written). `doc` undefined means the device has no shadow yet: a write
 * creates it, a read is refused with "device image not exists". `origin` is the inbox
 * of the edge a device's own request came through; its event carries it.
 */
export const runCommand = (
  doc: ShadowDocument | undefined,
  device: DeviceId,
  header: CommandHeader,
  payload: Uint8Array,
  now: number,
  limits: Limits,
  origin?: string,
): CommandOutcome => {
  switch (header.op) {
    case "get":
    case "sync": {
      const current = live(doc);
      if (current === undefined) return refusal(doc, header, ShadowErrors.shadowNotFound(), origin);
      return read(doc, header, current, now, origin);
    }
    case "request":
    case "update": {
      let request: UpdateRequest;
      let asked = header;
      if (header.source === "cloud") {
        // A cloud caller may add "version" next to "state": read the payload once.
        const body = parseJsonPayload(payload, limits);
        if (!body.ok) return refusal(doc, header, body.error, origin);
        const patch = readStatePatch(body.value);
        if (!patch.ok) return refusal(doc, header, patch.error, origin);
        const rule = expectedVersion(header, body.value);
        if (rule !== undefined && !isRule(rule)) return refusal(doc, header, rule, origin);
        const { desired, reported } = patch.value;
        request =
          rule === undefined
            ? { desired, reported, source: "cloud" }
            : { desired, reported, source: "cloud", version: rule };
      } else {
        // A device's payload is read by the dialect it spoke.
        const dialect = dialectNamed(header.dialect);
        if (dialect === undefined)
          return refusal(
            doc,
            header,
            ShadowErrors.invalidParameter("/dialect", `no device dialect '${header.dialect}'`),
            origin,
          );
        const command = dialect.readCommand(header.op as DeviceOp, payload, limits);
        if (!command.ok)
          return refusal(doc, header, command.error.error, origin, command.error.code);
        if (command.value.op === "get") {
          // A dialect whose payload names the operation (Alibaba `method: get`).
          const get: CommandHeader = { ...header, op: "get" };
          const current = live(doc);
          if (current === undefined)
            return refusal(doc, get, ShadowErrors.shadowNotFound(), origin);
          return read(doc, get, current, now, origin);
        }
        request = command.value.update;
        if (header.op !== "update") asked = { ...header, op: "update" };
      }
      const start = base(doc, device, now, limits);
      const { desired, reported } = request;
      // A device whose shadow has a digital twin reports in the Plug and Play
      // convention: writable-property acks {"value","ac","av","ad"} feed the twin's $metadata.
      const result =
        request.source === "device" &&
        desired === undefined &&
        reported !== null &&
        reported !== undefined &&
        start.metadata.twin !== undefined
          ? applyTwinReported(start, reported, { now, limits })
          : applyUpdate(start, request, { now, limits });
      if (!result.ok) return refusal(doc, asked, result.error, origin);
      return written(asked, result.value, origin);
    }
    case "twin": {
      const body = parseJsonPayload(payload, limits);
      if (!body.ok) return refusal(doc, header, body.error, origin);
      const rule = expectedVersion(header, body.value);
      if (rule !== undefined && !isRule(rule)) return refusal(doc, header, rule, origin);
      const operations = isObject(body.value) ? body.value.patch : undefined;
      const result = applyTwinPatch(
        base(doc, device, now, limits),
        operations,
        rule === undefined ? { now, limits } : { now, limits, version: rule },
      );
      if (!result.ok) return refusal(doc, header, result.error, origin);
      return written(header, result.value, origin);
    }
    case "function":
      return runFunction(doc, device, header, payload, now, limits, origin);
    case "delete": {
      const current = live(doc);
      if (current === undefined) return refusal(doc, header, ShadowErrors.shadowNotFound(), origin);
      let rule: VersionRule | ShadowError | undefined;
      if (payload.length > 0) {
        const body = parseJsonPayload(payload, limits);
        if (!body.ok) return refusal(doc, header, body.error, origin);
        rule = expectedVersion(header, body.value);
      }
      if (rule !== undefined && !isRule(rule)) return refusal(doc, header, rule, origin);
      if (rule !== undefined && rule.kind === "expected") {
        const epoch = epochOf(current);
        if (rule.version !== current.version || (rule.epoch !== undefined && rule.epoch !== epoch))
          return refusal(
            doc,
            header,
            ShadowErrors.versionConflict(
              rule.version,
              current.version,
              rule.epoch === undefined ? undefined : { expected: rule.epoch, current: epoch },
            ),
            origin,
          );
      }
      const tombstone = tombstoneOf(current, device, now);
      const event: AcceptedEvent = {
        kind: "accepted",
        device: header.device,
        dialect: header.dialect,
        source: header.source,
        op: header.op,
        origin,
        version: tombstone.version,
        timestamp: now,
        applied: { desired: null, reported: null },
        delta: undefined,
        deltaMetadata: undefined,
      };
      return { doc: tombstone, changed: true, event };
    }
    default:
      return refusal(
        doc,
        header,
        ShadowErrors.invalidParameter("/op", `unknown operation '${String(header.op)}'`),
        origin,
      );
  }
};

/** Reads a `function` command's payload; a string is the problem with it. */
const readFunctionCommand = (value: unknown): FunctionCommand | string => {
  if (!isObject(value)) return "must be an object";
  if (isObject(value.queue)) {
    const q = value.queue;
    if (q.online !== undefined && typeof q.online !== "boolean") return "online must be a boolean";
    for (const name of ["timeoutMs", "retentionMs"] as const)
      if (q[name] !== undefined && typeof q[name] !== "number") return `${name} must be a number`;
    if (q.params !== undefined && !isObject(q.params)) return "params must be an object";
    return {
      queue: {
        funcKey: q.funcKey as string,
        ...(q.params === undefined ? {} : { params: q.params as JsonObject }),
        ...(q.timeoutMs === undefined ? {} : { timeoutMs: q.timeoutMs as number }),
        ...(q.retentionMs === undefined ? {} : { retentionMs: q.retentionMs as number }),
        ...(q.online === undefined ? {} : { online: q.online as boolean }),
      },
    };
  }
  if (isObject(value.check)) {
    const id = value.check.requestId;
    if (id !== undefined && typeof id !== "string") return "requestId must be a string";
    return { check: id === undefined ? {} : { requestId: id } };
  }
  return "must hold 'queue' or 'check'";
};

/**
 * `function`: queue a call (a write, whose delta carries `desired._function` to the
 * device when the call is at the head of the queue), or check deadlines and retention
 * (a write only when a call timed out or was cleaned up; otherwise a read).
 */
const runFunction = (
  doc: ShadowDocument | undefined,
  device: DeviceId,
  header: CommandHeader,
  payload: Uint8Array,
  now: number,
  limits: Limits,
  origin: string | undefined,
): CommandOutcome => {
  const refuse = (error: ShadowError): CommandOutcome => refusal(doc, header, error, origin);
  const body = parseJsonPayload(payload, limits);
  if (!body.ok) return refuse(body.error);
  const command = readFunctionCommand(body.value);
  if (typeof command === "string") return refuse(ShadowErrors.invalidParameter("/", command));
  if ("queue" in command) {
    const { online, ...request } = command.queue;
    const queued = queueFunctionCall(base(doc, device, now, limits), request, {
      now,
      limits,
      online: online === true,
    });
    if (!queued.ok) return refuse(queued.error);
    return changedCalls(header, queued.value.write, origin, doc);
  }
  const current = live(doc);
  const requestId = command.check.requestId;
  const missing = (d: ShadowDocument | undefined): boolean =>
    requestId !== undefined && (d === undefined || getFunctionCall(d, requestId) === undefined);
  if (current === undefined || missing(current))
    return refuse(
      requestId === undefined
        ? ShadowErrors.shadowNotFound()
        : ShadowErrors.functionNotFound(requestId),
    );
  const expired = expireFunctionCalls(current, { now, limits });
  if (!expired.ok) return refuse(expired.error);
  // A write: the device hears of the call now at the head of the queue. A call cleaned
  // up by it is absent from the document the caller gets.
  if (expired.value !== undefined) return changedCalls(header, expired.value, origin, doc);
  return read(doc, header, current, now, origin);
};

/** A refused command: nothing changes; the event says why. */
const refusal = (
  doc: ShadowDocument | undefined,
  header: CommandHeader,
  error: ShadowError,
  origin: string | undefined,
  code?: number,
): CommandOutcome => ({ doc, changed: false, event: rejected(header, error, origin, code) });

/** A read: nothing changes; the event carries the live document at `now`. */
const read = (
  doc: ShadowDocument | undefined,
  header: CommandHeader,
  current: ShadowDocument,
  now: number,
  origin: string | undefined,
): CommandOutcome => ({
  doc,
  changed: false,
  event: {
    kind: "document",
    device: header.device,
    dialect: header.dialect,
    source: header.source,
    op: header.op,
    origin,
    document: current,
    timestamp: now,
  },
});

/** An accepted write's outcome and event. */
const written = (
  header: CommandHeader,
  result: WriteResult,
  origin: string | undefined,
): CommandOutcome => {
  const { delta, applied, timestamp } = result;
  const doc = result.doc;
  // One literal with every key (undefined when absent): building events by
  // spreading a base object measured as 5 % of a busy shard.
  return {
    doc,
    changed: true,
    event: {
      kind: "accepted",
      device: header.device,
      dialect: header.dialect,
      source: header.source,
      op: header.op,
      origin,
      version: doc.version,
      timestamp,
      applied,
      delta,
      deltaMetadata: delta === undefined ? undefined : metadataOf(delta, doc.metadata.desired),
      // Desired changed: dialects that push the whole document (Alibaba control) need it.
      // Device reports, the hot path, leave desired alone and carry none.
      document: doc.desired !== result.previous.desired ? doc : undefined,
    },
  };
};

/**
 * A `function` command's write. It sends the device a delta only when it changed
 * desired (the call at the head of the queue): queuing behind a pending call, or
 * cleaning up a finished one, tells the device nothing new, so it hears of each call
 * once rather than on every write of the queue.
 */
const changedCalls = (
  header: CommandHeader,
  result: WriteResult,
  origin: string | undefined,
  before: ShadowDocument | undefined,
): CommandOutcome => {
  const outcome = written(header, result, origin);
  const event = outcome.event;
  if (before === undefined || result.doc.desired !== before.desired || event.kind !== "accepted")
    return outcome;
  return { ...outcome, event: { ...event, delta: undefined, deltaMetadata: undefined } };
};

const rejected = (
  header: CommandHeader,
  error: ShadowError,
  origin: string | undefined,
  code?: number,
): RejectedEvent => ({
  kind: "rejected",
  device: header.device,
  dialect: header.dialect,
  source: header.source,
  op: header.op,
  origin,
  error,
  code,
});
