/**
 * Raw sockets for the fuzz suite: an MQTT connection that writes any bytes and reads what
 * the edge answers with mqtt-packet's parser, and a one-shot HTTP/1.1 exchange that writes
 * any request text. Raw sockets are the cheapest client and the only one that will send
 * what a careful library refuses to.
 */
import { connect, type Socket } from "node:net";
import mqttPacket, { type Packet } from "mqtt-packet";

/** A PINGREQ: two bytes whose answer (PINGRESP) proves a session still reads. */
export const PINGREQ = Buffer.from([0xc0, 0x00]);

/** Why a wait ended. */
export type Outcome = "matched" | "closed" | "timeout";

/** A raw TCP connection to the edge that records every packet and the close. */
export class RawMqtt {
  readonly socket: Socket;
  readonly packets: Packet[] = [];
  /** Set when the edge sent bytes mqtt-packet cannot read (itself a finding). */
  parseError: Error | undefined;
  closed = false;
  readonly #parser: ReturnType<typeof mqttPacket.parser>;
  #wake: (() => void) | undefined;

  private constructor(socket: Socket, protocolVersion: number) {
    this.socket = socket;
    this.#parser = mqttPacket.parser({ protocolVersion });
    this.#parser.on("packet", (p: Packet) => {
      this.packets.push(p);
      this.#notify();
    });
    this.#parser.on("error", (e: Error) => {
      this.parseError ??= e;
    });
    socket.on("data", (chunk: Buffer) => this.#parser.parse(chunk));
    socket.on("error", () => {
      // A reset is one way for the edge to end a connection; "close" follows.
    });
    socket.on("close", () => {
      this.closed = true;
      this.#notify();
    });
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  /** `from`: the local address (any of 127.0.0.0/8), so that throttles see distinct clients. */
  static open(port: number, protocolVersion: number, from: string): Promise<RawMqtt> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: "127.0.0.1", port, localAddress: from });
      socket.setNoDelay(true);
      socket.once("connect", () => {
        socket.off("error", reject);
        resolve(new RawMqtt(socket, protocolVersion));
      });
      socket.once("error", reject);
    });
  }

  write(bytes: Buffer): void {
    if (!this.closed && !this.socket.destroyed) this.socket.write(bytes);
  }

  /** Waits until `match` holds over the packets received, the edge closes, or `ms` pass. */
  async until(match: (packets: readonly Packet[]) => boolean, ms: number): Promise<Outcome> {
    const deadline = Date.now() + ms;
    for (;;) {
      if (match(this.packets)) return "matched";
      if (this.closed) return "closed";
      const left = deadline - Date.now();
      if (left <= 0) return "timeout";
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** Half-closes (FIN) and waits for the edge to close its side. */
  async finish(ms: number): Promise<Outcome> {
    if (!this.closed) this.socket.end();
    return this.until(() => false, ms).then((o) => (o === "timeout" ? "timeout" : "closed"));
  }

  destroy(): void {
    this.socket.destroy();
  }

  count(cmd: Packet["cmd"]): number {
    let n = 0;
    for (const p of this.packets) if (p.cmd === cmd) n++;
    return n;
  }
}

export interface HttpReply {
  /** The status code of the first status line, or undefined when none came. */
  readonly status: number | undefined;
  /** Every byte received, as latin1 text. */
  readonly text: string;
  readonly outcome: "closed" | "timeout";
}

/**
 * Writes `request` (a whole HTTP/1.1 request, `Connection: close`) on a fresh socket and
 * reads until the server closes. The request is bytes, so headers and bodies may hold
 * anything. With `halfClose` the client also sends FIN (for a body shorter than its
 * Content-Length); otherwise not, since node's HTTP server drops the answer to a request
 * whose client half-closed before it was answered.
 */
export const httpExchange = (
  port: number,
  request: Buffer,
  ms: number,
  from: string,
  halfClose = false,
): Promise<HttpReply> =>
  new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = connect({ host: "127.0.0.1", port, localAddress: from });
    let done = false;
    const end = (outcome: "closed" | "timeout") => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(chunks).toString("latin1");
      // The final status: 100 Continue (an `Expect` header) comes before it.
      const statuses = [...text.matchAll(/^HTTP\/1\.[01] (\d{3})/gm)].map((m) => Number(m[1]));
      const status = statuses.find((s) => s >= 200) ?? statuses[0];
      resolve({ status, text, outcome });
    };
    const timer = setTimeout(() => end("timeout"), ms);
    socket.once("connect", () => (halfClose ? socket.end(request) : socket.write(request)));
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("error", () => end("closed"));
    socket.on("close", () => end("closed"));
  });
