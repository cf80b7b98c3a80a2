import type { NatsConnection } from "@nats-io/transport-node";
import { type CommandOp, type CommandReply, encodeCommand } from "./frames.js";
import { partitionOf } from "./partition.js";
import { commandSubject } from "./subjects.js";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const EMPTY = new Uint8Array(0);

/**
 * No shard answered a command: nobody serves the partition (no responders), the
 * answer did not come in time, or the connection is closed. The command may or may
 * not have been applied (a timeout can follow a write).
 */
export class ClusterUnavailableError extends Error {
  override readonly name = "ClusterUnavailableError";
}

/** `version`, when given, is the version the shadow must be at (If-Match). */
const withVersion = (body: Record<string, unknown>, version: number | undefined): Uint8Array =>
  encoder.encode(JSON.stringify(version === undefined ? body : { ...body, version }));

/**
 * A cloud-side caller of the shard actors (the API service, the CLI, tests): sends a
 * command to the device's partition and waits for the actor's answer.
 */
export class ShadowClient {
  readonly #nc: NatsConnection;
  readonly #partitions: number;
  readonly #timeoutMs: number;

  constructor(nc: NatsConnection, partitions: number, timeoutMs = 5_000) {
    this.#nc = nc;
    this.#partitions = partitions;
    this.#timeoutMs = timeoutMs;
  }

  /** `state` as in an update request: `{ desired?: {...}, reported?: {...} }`. */
  update(deviceKey: string, state: object, expectedVersion?: number): Promise<CommandReply> {
    return this.#send("update", deviceKey, withVersion({ state }, expectedVersion));
  }

  get(deviceKey: string): Promise<CommandReply> {
    return this.#send("get", deviceKey, EMPTY);
  }

  /** Deletes the shadow; the reply's version is the deleted shadow's next version. */
  delete(deviceKey: string, expectedVersion?: number): Promise<CommandReply> {
    return this.#send(
      "delete",
      deviceKey,
      expectedVersion === undefined ? EMPTY : withVersion({}, expectedVersion),
    );
  }

  /** A digital twin JSON Patch (seed 004): an array of add / replace / remove operations. */
  twinPatch(deviceKey: string, patch: unknown, expectedVersion?: number): Promise<CommandReply> {
    return this.#send("twin", deviceKey, withVersion({ patch }, expectedVersion));
  }

  /** Sends one command; a missing answer is a `ClusterUnavailableError`. */
  async #send(op: CommandOp, deviceKey: string, payload: Uint8Array): Promise<CommandReply> {
    const frame = encodeCommand(
      { op, device: deviceKey, dialect: "cloud", source: "cloud" },
      payload,
    );
    let data: Uint8Array;
    try {
      const msg = await this.#nc.request(
        commandSubject(partitionOf(deviceKey, this.#partitions)),
        frame,
        { timeout: this.#timeoutMs },
      );
      data = msg.data;
    } catch (e) {
      throw new ClusterUnavailableError(
        `no shard answered for ${deviceKey}: ${e instanceof Error ? e.message : String(e)}`,
      );
    }
    return JSON.parse(decoder.decode(data)) as CommandReply;
  }
}
