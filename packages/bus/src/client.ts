import type { NatsConnection } from "@nats-io/transport-node";
import { type CommandOp, type CommandReply, encodeCommand } from "./frames.js";
import { partitionOf } from "./partition.js";
import { commandSubject } from "./subjects.js";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

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
  update(deviceKey: string, state: object): Promise<CommandReply> {
    return this.#send("update", deviceKey, encoder.encode(JSON.stringify({ state })));
  }

  get(deviceKey: string): Promise<CommandReply> {
    return this.#send("get", deviceKey, new Uint8Array(0));
  }

  async #send(op: CommandOp, deviceKey: string, payload: Uint8Array): Promise<CommandReply> {
    const frame = encodeCommand(
      { op, device: deviceKey, dialect: "cloud", source: "cloud" },
      payload,
    );
    const msg = await this.#nc.request(
      commandSubject(partitionOf(deviceKey, this.#partitions)),
      frame,
      { timeout: this.#timeoutMs },
    );
    return JSON.parse(decoder.decode(msg.data)) as CommandReply;
  }
}
