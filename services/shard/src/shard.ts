import {
  type Command,
  type CommandReply,
  commandSubject,
  decodeCommands,
  encodeAcks,
  eventSubject,
  type Msg,
  type NatsConnection,
  Outbox,
  partitionOf,
  type ShadowEvent,
  type Subscription,
} from "@umbra/bus";
import { encodeJson, type Limits, ShadowErrors } from "@umbra/core";
import { parseDeviceKey } from "@umbra/dialects";
import type { Logger } from "@umbra/runtime";
import type { ShadowStore } from "@umbra/store";
import { type ActorEnvironment, type BatchResult, ShadowActor } from "./actor.js";

export interface ShardOptions {
  /** This shard's name in the cluster: its events go out on its own subject. */
  readonly shardId: string;
  /** P: partitions in the cluster. */
  readonly partitions: number;
  /** The partitions this shard serves. */
  readonly owned: readonly number[];
  readonly limits: Limits;
  /** An actor with nothing to do for this long is passivated (dropped from memory). */
  readonly actorIdleMs: number;
  readonly maxCasAttempts?: number;
  readonly now?: () => number;
}

/**
 * Hosts one `ShadowActor` per device of the partitions it owns: takes commands off
 * the partition subjects, routes them to actors, publishes what they produce.
 */
export class Shard {
  readonly #nc: NatsConnection;
  readonly #outbox: Outbox;
  readonly #options: ShardOptions;
  readonly #logger: Logger;
  readonly #actors = new Map<string, ShadowActor>();
  readonly #subscriptions: Subscription[] = [];
  readonly #env: ActorEnvironment;
  readonly #eventSubject: string;
  /** Every actor's events of this turn, published as one message when the turn ends. */
  #events: ShadowEvent[] = [];
  #sweep: NodeJS.Timeout | undefined;

  constructor(nc: NatsConnection, store: ShadowStore, logger: Logger, options: ShardOptions) {
    this.#nc = nc;
    this.#outbox = new Outbox(nc, () => this.#flushEvents());
    this.#eventSubject = eventSubject(options.shardId);
    this.#options = options;
    this.#logger = logger;
    this.#env = {
      store,
      limits: options.limits,
      now: options.now ?? Date.now,
      logger,
      maxCasAttempts: options.maxCasAttempts ?? 5,
      publish: (result) => this.#publish(result),
    };
  }

  get liveActors(): number {
    return this.#actors.size;
  }

  start(): void {
    for (const partition of this.#options.owned) {
      this.#subscriptions.push(
        this.#nc.subscribe(commandSubject(partition), {
          callback: (error, msg) => {
            if (error === null) this.#dispatch(msg, partition);
            else
              this.#logger.error({ err: error.message, partition }, "command subscription failed");
          },
        }),
      );
    }
    const every = Math.max(1_000, Math.floor(this.#options.actorIdleMs / 2));
    this.#sweep = setInterval(() => this.#passivate(), every);
    this.#sweep.unref();
  }

  /** Stops taking commands, lets every mailbox finish, flushes what was published. */
  async stop(): Promise<void> {
    if (this.#sweep !== undefined) clearInterval(this.#sweep);
    for (const sub of this.#subscriptions) sub.unsubscribe();
    this.#subscriptions.length = 0;
    await Promise.all([...this.#actors.values()].map((actor) => actor.idle));
    this.#outbox.flush();
    // A connection already gone has nothing left to flush.
    await this.#nc.flush().catch(() => undefined);
  }

  #dispatch(msg: Msg, partition: number): void {
    let commands: Command[];
    try {
      commands = decodeCommands(msg.data);
    } catch (e) {
      this.#logger.warn(
        { partition, err: e instanceof Error ? e.message : String(e) },
        "unreadable command dropped",
      );
      this.#answer(msg.reply, {
        ok: false,
        error: ShadowErrors.invalidParameter("/", "unreadable command"),
      });
      return;
    }
    const reply = msg.reply === "" ? undefined : msg.reply;
    for (const { header, payload } of commands) {
      let actor = this.#actors.get(header.device);
      if (actor === undefined) {
        // The partition is a function of the key: checked once, when the actor is made.
        const device = parseDeviceKey(header.device);
        if (
          device === undefined ||
          partitionOf(header.device, this.#options.partitions) !== partition
        ) {
          this.#logger.warn(
            { partition, device: header.device },
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
        actor = new ShadowActor(header.device, device, partition, this.#env);
        this.#actors.set(header.device, actor);
      }
      actor.enqueue({ header, payload, reply });
    }
  }

  #answer(reply: string | undefined, answer: CommandReply): void {
    if (reply !== undefined && reply !== "") this.#outbox.publish(reply, encodeJson(answer));
  }

  #publish(result: BatchResult): void {
    const nc = this.#outbox;
    if (result.events.length > 0) {
      // Each message costs a publish, a routing and a parse at every hop to the device:
      // a turn's events, each device's in order, travel together.
      for (const event of result.events) this.#events.push(event);
      nc.schedule();
    }
    for (const [subject, corrs] of result.acks) nc.publish(subject, encodeAcks(corrs));
    for (const [subject, reply] of result.replies) nc.publish(subject, encodeJson(reply));
  }

  #flushEvents(): void {
    if (this.#events.length === 0) return;
    const events = this.#events;
    this.#events = [];
    this.#outbox.publish(this.#eventSubject, encodeJson(events));
  }

  #passivate(): void {
    const cutoff = this.#env.now() - this.#options.actorIdleMs;
    for (const [key, actor] of this.#actors)
      if (!actor.busy && actor.lastActive < cutoff) this.#actors.delete(key);
  }
}
