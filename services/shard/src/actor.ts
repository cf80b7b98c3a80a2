import type { CommandAnswer, CommandHeader, ShadowEvent } from "@umbra/bus";
import {
  encodeDocument,
  type Limits,
  nextFunctionExpiry,
  type ShadowDocument,
  ShadowErrors,
} from "@umbra/core";
import type { DeviceId } from "@umbra/dialects";
import { type Logger, limitedLog, messageOf } from "@umbra/runtime";
import { DedupRing, dedupEntry, isTombstone, type ShadowStore } from "@umbra/store";
import { type CommandContext, runCommand } from "./commands/index.js";
import { refusal } from "./commands/outcomes.js";
import type { ShardMetrics } from "./metrics.js";

export interface QueuedCommand {
  readonly header: CommandHeader;
  readonly payload: Uint8Array;
  /**
   * NATS reply subject: for a device's command the inbox of its edge (acks when
   * header.corr is set, and where the reply service sends the answers); for a cloud
   * client's command its request inbox.
   */
  readonly reply: string | undefined;
  /** `performance.now()` when it reached the shard, for the command latency metric. */
  readonly arrivedAt?: number;
}

/** What a processed batch hands back to the shard for publishing, in order. */
export interface BatchResult {
  readonly events: ShadowEvent[];
  /** Edge ack subject → correlation ids. */
  readonly acks: Map<string, number[]>;
  readonly replies: [subject: string, reply: CommandAnswer][];
}

export interface ActorEnvironment {
  readonly store: ShadowStore;
  readonly limits: Limits;
  readonly now: () => number;
  readonly logger: Logger;
  /** Compare-and-set attempts of one batch before its writes are refused. */
  readonly maxCasAttempts: number;
  /** Publishes a batch's results. */
  readonly publish: (result: BatchResult) => void;
  /** Counts commands, their latency and compare-and-set conflicts; none in some tests. */
  readonly metrics?: ShardMetrics;
  /** Commands one mailbox holds at most (default: no bound); `enqueue` refuses past it. */
  readonly maxMailbox?: number;
  /** Payload bytes queued in every mailbox of the shard together, and their bound. */
  readonly queued?: QueuedBytes;
  /** Named shadows one device may have at most (default `DEFAULT_MAX_NAMED_SHADOWS`). */
  readonly maxNamedShadows?: number;
}

/**
 * A device's named shadows at most, by default (SHARD_MAX_NAMED_SHADOWS): AWS IoT's own
 * default quota per thing. Each is a record in Redis and, while used, an actor.
 */
export const DEFAULT_MAX_NAMED_SHADOWS = 10;

/**
 * The key of a shadow's actor in the shard's map: the device key for the classic
 * shadow, `{device}\u0000{name}` for a named one (device keys hold no NUL: never equal).
 */
export const actorKey = (deviceKey: string, shadow: string | undefined): string =>
  shadow === undefined ? deviceKey : `${deviceKey}\u0000${shadow}`;

/** The payload bytes in a shard's mailboxes (waiting or being processed). */
export interface QueuedBytes {
  bytes: number;
  readonly max: number;
}

/**
 * One shadow of a device — its classic one, or a named one (`shadow`) — : a mailbox that
 * serialises every command for it, and a cached copy of its document and write counter.
 * Commands that queue up while a write is in flight are applied together and stored
 * with one compare-and-set, then each gets its own event and ack — acks only ever follow
 * the durable write. A device's named shadows are actors of the device's partition.
 */
export class ShadowActor {
  /** Its key in the shard's map (`actorKey`). */
  readonly key: string;
  /** `{pid}/{dn}` */
  readonly deviceKey: string;
  readonly device: DeviceId;
  readonly partition: number;
  /** A named shadow's name; `undefined`: the classic shadow. */
  readonly shadow: string | undefined;
  #env: ActorEnvironment;
  #mailbox: QueuedCommand[] = [];
  #running = false;
  #loaded = false;
  #doc: ShadowDocument | undefined;
  #rev = 0;
  #dedup = "";
  /** A named shadow's: how many named shadows of the device exist, as last read or written. */
  #names = 0;
  /**
   * An AWS session may listen: set by any `aws` command (the edge's `sync` when an AWS
   * client subscribes included), so accepted events say so (`awsListens`) and reports
   * are pushed as AWS `update/accepted`. `#awsDocuments`: one may listen to
   * `update/documents` (an AWS `sync` whose payload says so), so accepted events carry
   * `previous` and `document` — three times the bytes, hence only then. In memory only:
   * lost when the actor is passivated or its partition moves, until the device's next
   * AWS command or subscription. A named shadow's actor starts with both set (only AWS
   * renders named shadows).
   */
  #awsListens: boolean;
  #awsDocuments: boolean;
  #idle: Promise<void> = Promise.resolve();
  /** Fires when the next function call times out or a finished one is due for clean-up. */
  #expiry: NodeJS.Timeout | undefined;
  lastActive = 0;

  constructor(
    deviceKey: string,
    device: DeviceId,
    partition: number,
    env: ActorEnvironment,
    shadow?: string,
  ) {
    this.key = actorKey(deviceKey, shadow);
    this.deviceKey = deviceKey;
    this.device = device;
    this.partition = partition;
    this.shadow = shadow;
    this.#env = env;
    this.#awsListens = shadow !== undefined;
    this.#awsDocuments = shadow !== undefined;
  }

  get #maxNames(): number {
    return this.#env.maxNamedShadows ?? DEFAULT_MAX_NAMED_SHADOWS;
  }

  get busy(): boolean {
    return this.#running || this.#mailbox.length > 0;
  }

  /** Resolves when the mailbox is empty. */
  get idle(): Promise<void> {
    return this.#idle;
  }

  /** A function call's deadline or clean-up is timed. */
  get timing(): boolean {
    return this.#expiry !== undefined;
  }

  /** Dropped from memory: no timer may wake it. */
  dispose(): void {
    if (this.#expiry !== undefined) clearTimeout(this.#expiry);
    this.#expiry = undefined;
  }

  /**
   * While the document holds function calls, a timer sends the actor a check at the
   * next deadline or clean-up time, so a call times out (and the next one goes to the
   * device) without anyone asking. Lost when the actor is passivated or its partition
   * moves; the next write or read of the calls catches up then.
   */
  #armExpiry(minDelayMs = 0): void {
    this.dispose();
    const doc = this.#doc;
    if (doc === undefined || doc.functions === undefined || doc.functions.length === 0) return;
    const at = nextFunctionExpiry(doc);
    if (at === undefined) return;
    const delay = Math.min(Math.max(minDelayMs, at - this.#env.now() + 1), 0x7fffffff);
    this.#expiry = setTimeout(() => {
      this.#expiry = undefined;
      this.enqueue({ header: this.#checkHeader, payload: CHECK_FUNCTIONS, reply: undefined }, true);
    }, delay);
    this.#expiry.unref();
  }

  get #checkHeader(): QueuedCommand["header"] {
    return { op: "function", device: this.deviceKey, source: "cloud", shadow: this.shadow };
  }

  /**
   * Queues a command; `false` when the mailbox is full (`maxMailbox` commands, or the
   * shard's queued bytes at their bound): the command is not taken — a bounded mailbox
   * turns a flood into refusals instead of memory. The actor's own checks always go in.
   */
  enqueue(command: QueuedCommand, own = false): boolean {
    const queued = this.#env.queued;
    if (!own) {
      if (this.#mailbox.length >= (this.#env.maxMailbox ?? Number.POSITIVE_INFINITY)) return false;
      if (queued !== undefined && queued.bytes + command.payload.length > queued.max) return false;
    }
    if (queued !== undefined) queued.bytes += command.payload.length;
    this.#mailbox.push(command);
    if (!this.#running) this.#idle = this.#drain();
    return true;
  }

  async #drain(): Promise<void> {
    this.#running = true;
    try {
      while (this.#mailbox.length > 0) {
        const batch = this.#mailbox;
        this.#mailbox = [];
        try {
          await this.#process(batch);
        } finally {
          const queued = this.#env.queued;
          if (queued !== undefined)
            for (let i = 0; i < batch.length; i++)
              queued.bytes -= (batch[i] as QueuedCommand).payload.length;
        }
      }
    } finally {
      this.#running = false;
      this.lastActive = this.#env.now();
      // A check that found nothing due wrote nothing (timers may fire a little early
      // against Date.now()): keep a timer running while calls are waiting.
      // (At least 250 ms later: a due time a check cannot settle must not spin.)
      if (this.#loaded && this.#expiry === undefined) this.#armExpiry(250);
    }
  }

  async #process(batch: QueuedCommand[]): Promise<void> {
    const env = this.#env;
    attempts: for (let attempt = 1; ; attempt++) {
      try {
        /** The count of names was read in this attempt, not cached from an earlier one. */
        let namesFresh = false;
        if (!this.#loaded) {
          const record = await env.store.load(this.deviceKey, this.shadow);
          this.#doc = record.doc;
          this.#rev = record.rev;
          this.#dedup = record.dedup;
          this.#names = record.names ?? 0;
          namesFresh = true;
          this.#loaded = true;
          this.#armExpiry();
        }
        const now = env.now();
        const ring = new DedupRing(this.#dedup);
        const result: BatchResult = { events: [], acks: new Map(), replies: [] };
        let doc = this.#doc;
        let changed = false;
        /** A named shadow's count of the device's names, as this batch leaves it. */
        let names = this.#names;
        /** Copies acknowledged without being applied: accepted, without an event. */
        let copies = 0;
        for (const command of batch) {
          const { header, payload } = command;
          const entry =
            header.packetId !== undefined && header.op === "update"
              ? dedupEntry(header.packetId, payload, header.corr)
              : undefined;
          if (entry !== undefined && ring.seen(entry, header.dup === true)) {
            // A copy was applied before; its ack was lost. Acknowledge, apply nothing.
            acknowledge(result, command, doc);
            copies++;
            continue;
          }
          if (header.dialect === "aws") {
            this.#awsListens = true;
            if (header.op === "sync" && payload[0] === 1) this.#awsDocuments = true;
          }
          const ctx: CommandContext = {
            doc,
            device: this.device,
            header,
            payload,
            now,
            limits: env.limits,
            origin: header.source === "device" ? command.reply : undefined,
            documents: this.#awsDocuments,
            awsListens: this.#awsListens,
          };
          let outcome = runCommand(ctx);
          if (outcome.changed && this.shadow !== undefined) {
            // A named shadow coming to life or going: the device's count of names.
            const wasLive = doc !== undefined && !isTombstone(doc);
            const isLive = outcome.doc !== undefined && !isTombstone(outcome.doc);
            if (!wasLive && isLive) {
              if (names >= this.#maxNames && !namesFresh) {
                // The cached count may be old (a sibling deleted one since): read it again.
                this.#loaded = false;
                continue attempts;
              }
              if (names >= this.#maxNames)
                outcome = refusal(
                  ctx,
                  tooManyNamedShadows(this.#maxNames),
                  header,
                  undefined,
                  outcome.event.clientToken,
                );
              else names++;
            } else if (wasLive && !isLive) names--;
          }
          if (outcome.changed) {
            doc = outcome.doc;
            changed = true;
            if (entry !== undefined) ring.add(entry);
          }
          result.events.push(outcome.event);
          acknowledge(result, command, doc, outcome.event);
        }
        if (changed && doc !== undefined) {
          const dedup = ring.serialize();
          const shadow = this.shadow;
          const cas = await env.store.compareAndSet(
            this.deviceKey,
            this.#rev,
            encodeDocument(doc),
            dedup,
            shadow === undefined
              ? undefined
              : { name: shadow, live: !isTombstone(doc), maxNames: this.#maxNames },
          );
          if (!cas.ok) {
            // Another writer got there first, or another named shadow of the device took
            // the last free name: reload (the count too), and run the batch again.
            this.#loaded = false;
            if (env.metrics !== undefined) env.metrics.casConflicts.value++;
            if (attempt < env.maxCasAttempts) {
              if (env.metrics !== undefined) env.metrics.casRetries.value++;
              continue;
            }
            limitedLog(env.logger).warn(
              {
                device: this.deviceKey,
                shadow: this.shadow,
                corr: correlations(batch),
                attempts: attempt,
              },
              "shadow kept changing under this shard; batch refused",
            );
            env.publish(refuseAll(batch, "concurrent writers kept changing the shadow"));
            if (env.metrics !== undefined) countRefused(env.metrics, batch);
            return;
          }
          this.#doc = doc;
          this.#rev = cas.rev;
          this.#dedup = dedup;
          this.#names = names;
          this.#armExpiry();
        }
        env.publish(result);
        if (env.metrics !== undefined) countProcessed(env.metrics, batch, result.events, copies);
        return;
      } catch (e) {
        // Storage unreachable or a corrupt record: nothing was applied. Device QoS 1
        // commands get no ack (the device retransmits); the others are told.
        this.#loaded = false;
        limitedLog(env.logger).error(
          {
            device: this.deviceKey,
            shadow: this.shadow,
            corr: correlations(batch),
            err: messageOf(e),
          },
          "shadow storage failed; commands not applied",
        );
        env.publish(refuseAll(batch, "shadow storage unavailable", true));
        if (env.metrics !== undefined) countRefused(env.metrics, batch);
        return;
      }
    }
  }
}

const CHECK_FUNCTIONS = new TextEncoder().encode('{"check":{}}');

/** A write that would create a named shadow past the device's bound: 400, nothing written. */
const tooManyNamedShadows = (max: number) =>
  ShadowErrors.invalidParameter(
    "/shadow",
    `the device has ${max} named shadows, the most it may have; delete one first`,
  );

/** The correlation ids of a batch's QoS 1 commands, for a log line about the batch. */
const correlations = (batch: readonly QueuedCommand[]): number[] | undefined => {
  const ids = batch.flatMap(({ header }) => (header.corr === undefined ? [] : [header.corr]));
  return ids.length > 0 ? ids : undefined;
};

/** Each command's time from arrival to now, the moment its result was published. */
const observeLatency = (metrics: ShardMetrics, batch: readonly QueuedCommand[]): void => {
  const now = performance.now();
  for (const { header, arrivedAt } of batch)
    if (arrivedAt !== undefined) metrics.ops[header.op].duration.observe((now - arrivedAt) / 1000);
};

/** A batch processed: one event per command applied or refused by the rules, plus copies. */
const countProcessed = (
  metrics: ShardMetrics,
  batch: readonly QueuedCommand[],
  events: readonly ShadowEvent[],
  copies: number,
): void => {
  for (const { op, kind } of events) {
    const counts = metrics.ops[op];
    if (kind === "rejected") counts.rejected.value++;
    else counts.accepted.value++;
  }
  metrics.ops.update.accepted.value += copies;
  observeLatency(metrics, batch);
};

/** A batch refused whole (storage failed, or the shadow kept changing). */
const countRefused = (metrics: ShardMetrics, batch: readonly QueuedCommand[]): void => {
  for (const { header } of batch) metrics.ops[header.op].rejected.value++;
  observeLatency(metrics, batch);
};

/** Queues an edge's ack of command `corr`, batched per ack subject. */
const ackTo = (result: BatchResult, subject: string, corr: number): void => {
  const list = result.acks.get(subject);
  if (list === undefined) result.acks.set(subject, [corr]);
  else list.push(corr);
};

const acknowledge = (
  result: BatchResult,
  command: QueuedCommand,
  doc: ShadowDocument | undefined,
  event?: ShadowEvent,
): void => {
  const { reply, header } = command;
  if (reply === undefined) return;
  if (header.source === "device") {
    // An edge: it waits for an ack of QoS 1 commands only; answers go as events.
    if (header.corr !== undefined) ackTo(result, reply, header.corr);
    return;
  }
  if (event?.kind === "rejected") result.replies.push([reply, { ok: false, error: event.error }]);
  else if (doc === undefined)
    result.replies.push([reply, { ok: false, error: ShadowErrors.shadowNotFound() }]);
  else result.replies.push([reply, { ok: true, version: doc.version, document: doc }]);
};

const refuseAll = (batch: QueuedCommand[], detail: string, keepQos1 = false): BatchResult => {
  const result: BatchResult = { events: [], acks: new Map(), replies: [] };
  const error = ShadowErrors.unspecified(detail);
  for (const command of batch) {
    const { header, reply } = command;
    if (keepQos1 && header.corr !== undefined) continue;
    const fromDevice = header.source === "device";
    result.events.push({
      kind: "rejected",
      device: header.device,
      dialect: header.dialect,
      source: header.source,
      op: header.op,
      origin: fromDevice ? reply : undefined,
      shadow: header.shadow,
      error,
    });
    if (reply === undefined) continue;
    if (!fromDevice) result.replies.push([reply, { ok: false, error }]);
    else if (header.corr !== undefined) ackTo(result, reply, header.corr);
  }
  return result;
};
