import {
  type Command,
  type CommandAnswer,
  commandSubject,
  decodeCommands,
  encodeAckFrames,
  encodeCommandAnswer,
  encodeEventFrames,
  eventSubject,
  type Msg,
  type NatsConnection,
  Outbox,
  partitionOf,
  type ShadowEvent,
  type Subscription,
} from "@umbra/bus";
import { type Limits, ShadowErrors } from "@umbra/core";
import { isAwsShadowName, parseDeviceKey } from "@umbra/dialects";
import {
  busDropReporter,
  type LimitedLog,
  type Logger,
  limitedLog,
  messageOf,
} from "@umbra/runtime";
import type { ShadowStore } from "@umbra/store";
import {
  type ActorEnvironment,
  actorKey,
  type BatchResult,
  type QueuedCommand,
  ShadowActor,
} from "./actor.js";
import { type ShardMetrics, shardMetrics } from "./metrics.js";

export interface ShardOptions {
  /** This shard's name in the cluster: its events go out on its own subject. */
  readonly shardId: string;
  /** P: partitions in the cluster. */
  readonly partitions: number;
  /** The partitions served from `start()`; membership changes them later with `own()`. */
  readonly owned: readonly number[];
  readonly limits: Limits;
  /** An actor with nothing to do for this long is passivated (dropped from memory). */
  readonly actorIdleMs: number;
  /** At most this many actors in memory: past it, idle ones are passivated, oldest first. */
  readonly maxActors?: number;
  readonly maxCasAttempts?: number;
  /**
   * Commands one device's mailbox holds at most (ACTOR_MAILBOX_MAX); past it a command
   * is refused: QoS 1 gets no ack (the edge re-sends it, the device retransmits), QoS 0
   * is dropped, a cloud caller is answered "unavailable". Default: no bound.
   */
  readonly maxMailbox?: number;
  /** Payload bytes all mailboxes hold together at most (SHARD_QUEUE_MAX_BYTES); as above. */
  readonly maxQueuedBytes?: number;
  /**
   * Named shadows one device may have (SHARD_MAX_NAMED_SHADOWS; default 10, AWS's): a
   * write creating one more is refused 400.
   */
  readonly maxNamedShadows?: number;
  readonly now?: () => number;
  /** Default: the process's `umbra_shard_*` metrics. */
  readonly metrics?: ShardMetrics;
}

/** Every shard subscribes to its partitions in this queue group (see `own`). */
const SHARD_QUEUE = "shard";

/**
 * Hosts one `ShadowActor` per shadow — a device's classic one and each named one — of
 * the partitions it owns: takes commands off the partition subjects, routes them to
 * actors, publishes what they produce. A device's named shadows are in its partition.
 */
export class Shard {
  readonly #nc: NatsConnection;
  readonly #outbox: Outbox;
  readonly #options: ShardOptions;
  /** Per-command warnings, rate-limited: a flood of bad commands is a few lines. */
  readonly #log: LimitedLog;
  readonly #actors = new Map<string, ShadowActor>();
  /** Partition → its command subscription, for the partitions this shard serves. */
  readonly #subscriptions = new Map<number, Subscription>();
  /** Partitions given up whose actors are still finishing their mailboxes. */
  readonly #handoffs = new Set<Promise<void>>();
  #stopped = false;
  readonly #env: ActorEnvironment;
  readonly #eventSubject: string;
  /** Every actor's events of this turn, published as one message when the turn ends. */
  #events: ShadowEvent[] = [];
  #sweep: NodeJS.Timeout | undefined;
  readonly #metrics: ShardMetrics;
  #removeGauges: (() => void) | undefined;

  constructor(nc: NatsConnection, store: ShadowStore, logger: Logger, options: ShardOptions) {
    this.#nc = nc;
    this.#outbox = new Outbox(nc, () => this.#flushEvents(), busDropReporter(logger));
    this.#eventSubject = eventSubject(options.shardId);
    this.#options = options;
    this.#log = limitedLog(logger);
    this.#metrics = options.metrics ?? shardMetrics();
    this.#env = {
      store,
      limits: options.limits,
      now: options.now ?? Date.now,
      logger,
      maxCasAttempts: options.maxCasAttempts ?? 5,
      publish: (result) => this.#publish(result),
      metrics: this.#metrics,
      ...(options.maxMailbox === undefined ? {} : { maxMailbox: options.maxMailbox }),
      ...(options.maxNamedShadows === undefined
        ? {}
        : { maxNamedShadows: options.maxNamedShadows }),
      queued: { bytes: 0, max: options.maxQueuedBytes ?? Number.POSITIVE_INFINITY },
    };
  }

  get liveActors(): number {
    return this.#actors.size;
  }

  /** Partitions served now. */
  get ownedPartitions(): number {
    return this.#subscriptions.size;
  }

  /** Hand-offs in progress: partitions given up whose mailboxes are still finishing. */
  get handoffs(): number {
    return this.#handoffs.size;
  }

  start(): void {
    this.#removeGauges ??= this.#metrics.gauges(
      () => this.liveActors,
      () => this.ownedPartitions,
    );
    this.own(this.#options.owned);
    const every = Math.max(1_000, Math.floor(this.#options.actorIdleMs / 2));
    this.#sweep = setInterval(() => this.#passivate(), every);
    this.#sweep.unref();
  }

  /**
   * Serves exactly `partitions` from now on. New partitions are subscribed at once (in
   * a queue group, so while an old owner still listens each command reaches one of
   * the two, never both; the compare-and-set orders their writes). Partitions given up
   * stop taking commands — the subscription is drained, so commands already on their
   * way are still handled — then their actors finish their mailboxes and are dropped:
   * the next owner loads each device from Redis when its first command comes.
   */
  own(partitions: Iterable<number>): void {
    if (this.#stopped) return;
    const wanted = new Set(partitions);
    for (const partition of wanted) {
      if (this.#subscriptions.has(partition)) continue;
      const sub = this.#nc.subscribe(commandSubject(partition), {
        queue: SHARD_QUEUE,
        callback: (error, msg) => {
          if (error === null) this.#dispatch(msg, partition);
          else this.#log.error({ err: error.message, partition }, "command subscription failed");
        },
      });
      this.#subscriptions.set(partition, sub);
    }
    for (const [partition, sub] of this.#subscriptions) {
      if (wanted.has(partition)) continue;
      this.#subscriptions.delete(partition);
      this.#handOff(partition, sub);
    }
  }

  #handOff(partition: number, sub: Subscription): void {
    this.#metrics.handoffs.value++;
    const done = sub
      .drain()
      .catch(() => undefined)
      .then(async () => {
        const leaving = [...this.#actors.values()].filter((a) => a.partition === partition);
        await Promise.all(leaving.map((actor) => actor.idle));
        // Taken back meanwhile: its actors stay.
        if (this.#subscriptions.has(partition)) return;
        for (const actor of leaving)
          if (!actor.busy && this.#actors.get(actor.key) === actor) {
            this.#actors.delete(actor.key);
            actor.dispose();
          }
      })
      .finally(() => this.#handoffs.delete(done));
    this.#handoffs.add(done);
  }

  /** Resolves when every hand-off in progress has finished. */
  async handoffsDone(): Promise<void> {
    while (this.#handoffs.size > 0) await Promise.all([...this.#handoffs]);
  }

  /** Stops taking commands, lets every mailbox finish, flushes what was published. */
  async stop(): Promise<void> {
    if (this.#sweep !== undefined) clearInterval(this.#sweep);
    this.own([]);
    this.#stopped = true;
    await this.handoffsDone();
    await Promise.all([...this.#actors.values()].map((actor) => actor.idle));
    for (const actor of this.#actors.values()) actor.dispose();
    this.#removeGauges?.();
    this.#removeGauges = undefined;
    this.#outbox.flush();
    // A connection already gone has nothing left to flush.
    await this.#nc.flush().catch(() => undefined);
  }

  #dispatch(msg: Msg, partition: number): void {
    const arrivedAt = performance.now();
    let commands: Command[];
    try {
      commands = decodeCommands(msg.data);
    } catch (e) {
      this.#log.warn({ partition, err: messageOf(e) }, "unreadable command dropped");
      this.#answer(msg.reply, {
        ok: false,
        error: ShadowErrors.invalidParameter("/", "unreadable command"),
      });
      return;
    }
    const reply = msg.reply === "" ? undefined : msg.reply;
    for (const { header, payload } of commands) {
      const shadow = header.shadow;
      const key = shadow === undefined ? header.device : actorKey(header.device, shadow);
      let actor = this.#actors.get(key);
      if (actor === undefined) {
        if (shadow !== undefined && !isAwsShadowName(shadow)) {
          this.#log.warn(
            { partition, device: header.device, corr: header.corr },
            "command for an unusable shadow name dropped",
          );
          this.#answer(reply, {
            ok: false,
            error: ShadowErrors.invalidParameter(
              "/shadow",
              "a shadow name is 1 to 64 of [$a-zA-Z0-9:_-]",
            ),
          });
          continue;
        }
        // The partition is a function of the device key (a named shadow's too): checked
        // once, when the actor is made.
        const device = parseDeviceKey(header.device);
        if (
          device === undefined ||
          partitionOf(header.device, this.#options.partitions) !== partition
        ) {
          this.#log.warn(
            { partition, device: header.device, corr: header.corr },
            "command on the wrong partition dropped",
          );
          this.#answer(reply, {
            ok: false,
            error: ShadowErrors.invalidParameter(
              "/device",
              "device key does not belong to this partition",
            ),
          });
          continue;
        }
        actor = new ShadowActor(header.device, device, partition, this.#env, shadow);
        if (this.#actors.size >= this.#maxActors) this.#evict();
        this.#actors.set(key, actor);
      }
      const command: QueuedCommand = { header, payload, reply, arrivedAt };
      if (!actor.enqueue(command)) this.#shed(command);
    }
  }

  /**
   * A full mailbox said no. A device's QoS 1 command gets no ack: the edge sends it again
   * (DUP) and, past its deadline, withholds the PUBACK so the device retransmits. QoS 0
   * is dropped (at most once allows it). A cloud caller is told to try again.
   */
  #shed({ header, reply }: QueuedCommand): void {
    const shed = this.#metrics.shed;
    if (header.source === "cloud") {
      shed.cloud.value++;
      this.#answer(reply, {
        ok: false,
        error: ShadowErrors.unspecified("the device's mailbox is full; try again"),
      });
    } else if (header.corr !== undefined) shed.qos1.value++;
    else shed.qos0.value++;
    this.#log.warn(
      { device: header.device, source: header.source, qos1: header.corr !== undefined },
      "mailbox full; command shed",
    );
  }

  /** Payload bytes in the mailboxes now (waiting or being processed). */
  get queuedBytes(): number {
    return this.#env.queued?.bytes ?? 0;
  }

  #answer(reply: string | undefined, answer: CommandAnswer): void {
    if (reply !== undefined && reply !== "")
      this.#outbox.publish(reply, encodeCommandAnswer(answer));
  }

  #publish(result: BatchResult): void {
    const nc = this.#outbox;
    if (result.events.length > 0) {
      // Each message costs a publish, a routing and a parse at every hop to the device:
      // a turn's events, each device's in order, travel together.
      for (const event of result.events) this.#events.push(event);
      nc.schedule();
    }
    for (const [subject, corrs] of result.acks)
      for (const frame of encodeAckFrames(corrs, nc.maxPayload)) nc.publish(subject, frame);
    for (const [subject, reply] of result.replies) nc.publish(subject, encodeCommandAnswer(reply));
  }

  #flushEvents(): void {
    if (this.#events.length === 0) return;
    const events = this.#events;
    this.#events = [];
    for (const frame of encodeEventFrames(events, this.#outbox.maxPayload))
      this.#outbox.publish(this.#eventSubject, frame);
  }

  get #maxActors(): number {
    return this.#options.maxActors ?? Number.POSITIVE_INFINITY;
  }

  /**
   * Over the memory bound: passivates idle actors in the order they were made until a
   * tenth of the bound is free, so that a burst of new devices does not scan the map on
   * every command. Busy actors stay; the bound may be exceeded while all are busy.
   */
  #evict(): void {
    const target = Math.floor(this.#maxActors * 0.9);
    for (const [key, actor] of this.#actors) {
      if (this.#actors.size <= target) break;
      if (!actor.busy) {
        this.#actors.delete(key);
        actor.dispose();
        this.#metrics.passivations.value++;
      }
    }
  }

  #passivate(): void {
    const cutoff = this.#env.now() - this.#options.actorIdleMs;
    // An actor waiting to time a function call out stays (the memory bound still applies).
    for (const [key, actor] of this.#actors)
      if (!actor.busy && !actor.timing && actor.lastActive < cutoff) {
        this.#actors.delete(key);
        this.#metrics.passivations.value++;
      }
  }
}
