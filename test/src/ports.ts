import { createServer } from "node:net";

/** The machine's shared servers (Redis, NATS, Mosquitto): tests never use these ports. */
const SHARED_PORTS = new Set([6379, 4222, 1883, 8883, 8222]);

/** Ports this process already handed out: the kernel may offer a just-closed port again. */
const handedOut = new Set<number>();

const bindAny = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });

/**
 * A TCP port on 127.0.0.1 that nothing listened on a moment ago, never the same one twice
 * in this process. Another process can still take it before we do: the starters retry on
 * "address in use".
 */
export const freePort = async (): Promise<number> => {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await bindAny();
    if (port > 0 && !handedOut.has(port) && !SHARED_PORTS.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error("freePort: the kernel kept offering ports already handed out");
};
