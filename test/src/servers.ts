import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { StartedTestContainer } from "testcontainers";
import { dockerAvailable, setContainerPaused, testContainerLabels } from "./docker.js";
import { freePort } from "./ports.js";
import { type Child, describeExit, findBinary, spawnChild, trackTempDir } from "./processes.js";
import { exchange, pollUntil } from "./wait.js";

/** A server a test started for itself. */
export interface Server {
  /** nats://…, redis://… or mqtt://… */
  readonly url: string;
  readonly port: number;
  /** The server's process id when it runs as a local process (not in a container). */
  readonly pid?: number | undefined;
  /** Stops the server and waits until it is gone. */
  stop(): Promise<void>;
  /**
   * Stops the server gracefully (SIGTERM) and leaves it stopped, keeping its port and
   * data for restart(): an outage as clients see it.
   */
  halt(): Promise<void>;
  /**
   * Freezes the server (SIGSTOP, or the container's cgroup frozen): connections stay open
   * and nothing is answered, a stall as clients see it, until resume().
   */
  pause(): Promise<void>;
  resume(): Promise<void>;
  /**
   * Stops the server gracefully (SIGTERM: Redis writes its append-only file out) unless
   * it is halted, and starts it again on the same port with the same data directory.
   */
  restart(): Promise<void>;
}

const HOST = "127.0.0.1";
const START_TIMEOUT_MS = 15_000;
const CONTAINER_TIMEOUT_MS = 120_000;
const RESTART_GRACE_MS = 10_000;

// Readiness probes: each answers true only when the server speaks its protocol.

/** NATS greets every connection with an `INFO {…}` line. */
const natsAnswers = (port: number, host = HOST): Promise<boolean> =>
  exchange({ host, port, complete: (got) => got.includes("\r\n") }).then(
    (got) => got.toString("latin1").startsWith("INFO "),
    () => false,
  );

/** Redis answers PING with +PONG once it accepts commands (-LOADING while it loads data). */
const redisAnswers = (port: number, host = HOST): Promise<boolean> =>
  exchange({ host, port, send: "PING\r\n", complete: (got) => got.includes("\r\n") }).then(
    (got) => got.toString("latin1").startsWith("+PONG"),
    () => false,
  );

/** MQTT 3.1.1 CONNECT (clean session, empty client id) must get CONNACK "accepted". */
const MQTT_CONNECT = Buffer.from([
  0x10, 0x0c, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x02, 0x00, 0x00, 0x00, 0x00,
]);
const mqttAnswers = (port: number, host = HOST): Promise<boolean> =>
  exchange({ host, port, send: MQTT_CONNECT, complete: (got) => got.length >= 4 }).then(
    (got) => got[0] === 0x20 && got[3] === 0x00,
    () => false,
  );

interface LocalSpec {
  readonly name: string;
  readonly binary: string;
  readonly debianPackage: string;
  readonly scheme: string;
  readonly args: (port: number, dir: string) => string[];
  readonly answers: (port: number) => Promise<boolean>;
  /** Writes files the server needs into its temp dir before it starts. */
  readonly prepare?: (port: number, dir: string) => void;
}

const ADDRESS_IN_USE = /address already in use|EADDRINUSE|bind.*in use/i;

/**
 * Spawns a server on a free port in its own temp dir and waits until it answers its
 * protocol. A port taken between freePort() and the bind is retried on a new port.
 */
const startLocal = async (spec: LocalSpec): Promise<Server> => {
  const binary = findBinary(spec.binary, spec.debianPackage);
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), `umbra-${spec.name}-`));
    const removeDir = trackTempDir(dir);
    spec.prepare?.(port, dir);
    let child = spawnChild(binary, spec.args(port, dir), { cwd: dir });
    try {
      await waitAnswering(child, spec, port);
    } catch (error) {
      await child.stop("SIGKILL");
      removeDir();
      if (attempt < 3 && ADDRESS_IN_USE.test(child.tail.text())) continue;
      throw error;
    }
    return {
      url: `${spec.scheme}://${HOST}:${port}`,
      port,
      get pid() {
        return child.proc.pid;
      },
      stop: async () => {
        await child.stop();
        removeDir();
      },
      halt: async () => {
        await child.stop();
      },
      pause: async () => {
        child.proc.kill("SIGSTOP");
      },
      resume: async () => {
        if (child.exit() === undefined) child.proc.kill("SIGCONT");
      },
      restart: async () => {
        await child.stop();
        // The port was ours a moment ago; a client reconnecting does not take it.
        child = spawnChild(binary, spec.args(port, dir), { cwd: dir });
        await waitAnswering(child, spec, port);
      },
    };
  }
};

const waitAnswering = (child: Child, spec: LocalSpec, port: number): Promise<void> =>
  pollUntil(() => spec.answers(port), {
    timeoutMs: START_TIMEOUT_MS,
    what: `${spec.name} on port ${port} did not answer`,
    giveUp: () => {
      const exit = child.exit();
      if (exit !== undefined)
        throw new Error(
          `${spec.name} ${describeExit(exit)} before accepting connections on port ${port}:\n${child.tail.text()}`,
        );
    },
  }).catch((error: unknown) => {
    if (child.exit() !== undefined) throw error;
    throw new Error(`${(error as Error).message}; its output:\n${child.tail.text()}`);
  });

interface ContainerSpec {
  readonly image: string;
  readonly port: number;
  readonly scheme: string;
  readonly command?: string[];
  /** Files written into the container before it starts. */
  readonly files?: readonly { readonly content: string; readonly target: string }[];
  readonly readyLog: RegExp;
  readonly answers: (port: number, host: string) => Promise<boolean>;
}

/** Docker's refusals when the host port it is asked to publish is taken. */
const HOST_PORT_TAKEN = /port is already allocated|address already in use/i;

/**
 * Runs the server in a container. Its port is published on a host port chosen here, not
 * by Docker: Docker publishes a random port anew on every start, and restart() must
 * keep the address the clients know. A port taken between freePort() and the bind is
 * retried on a new port.
 */
const startContainer = async (spec: ContainerSpec): Promise<Server> => {
  // Imported only here: machines without Docker never load testcontainers.
  const { GenericContainer, Wait } = await import("testcontainers");
  for (let attempt = 1; ; attempt++) {
    const hostPort = await freePort();
    let builder = new GenericContainer(spec.image)
      .withExposedPorts({ container: spec.port, host: hostPort })
      .withLabels(testContainerLabels())
      .withWaitStrategy(Wait.forLogMessage(spec.readyLog))
      .withStartupTimeout(CONTAINER_TIMEOUT_MS);
    if (spec.command !== undefined) builder = builder.withCommand(spec.command);
    if (spec.files !== undefined) builder = builder.withCopyContentToContainer([...spec.files]);
    let container: StartedTestContainer;
    try {
      container = await builder.start();
    } catch (error) {
      if (attempt < 3 && HOST_PORT_TAKEN.test(String(error))) continue;
      throw error;
    }
    const host = container.getHost();
    const port = container.getMappedPort(spec.port);
    await pollUntil(() => spec.answers(port, host), {
      timeoutMs: START_TIMEOUT_MS,
      what: `${spec.image} container at ${host}:${port} did not answer`,
    });
    return {
      url: `${spec.scheme}://${host}:${port}`,
      port,
      stop: async () => {
        await container.stop();
      },
      halt: async () => {
        // Kept, not removed: restart() starts the same container (data, host port) again.
        await container.stop({ remove: false, timeout: RESTART_GRACE_MS });
      },
      pause: () => setContainerPaused(container.getId(), true),
      resume: () => setContainerPaused(container.getId(), false),
      restart: async () => {
        // Same container, so the same data and the same fixed host port. Docker's SIGTERM
        // with time to exit, as the local restart does (testcontainers' default kills).
        // A halted container is started by the same call.
        await container.restart({ timeout: RESTART_GRACE_MS });
        if (container.getMappedPort(spec.port) !== port)
          throw new Error(
            `${spec.image} came back on port ${container.getMappedPort(spec.port)}, not ${port}`,
          );
        await pollUntil(() => spec.answers(port, host), {
          timeoutMs: START_TIMEOUT_MS,
          what: `${spec.image} container at ${host}:${port} did not answer after a restart`,
        });
      },
    };
  }
};

export interface NatsOptions {
  /** Off: a plain NATS without JetStream, as some users run (default on). */
  readonly jetstream?: boolean;
  /**
   * The server's `max_payload` in bytes (NATS's default: 1 MiB), for tests of what
   * happens past it without megabytes of traffic.
   */
  readonly maxPayload?: number;
}

/**
 * A NATS server of its own, with JetStream (stored in its temp dir, so a restart keeps
 * it) as Umbra's API keeps application events there.
 */
export const startNats = async (options: NatsOptions = {}): Promise<Server> => {
  const jetstream = options.jetstream !== false;
  // No command-line flag sets max_payload: a configuration file does.
  const config =
    options.maxPayload === undefined ? undefined : `max_payload: ${options.maxPayload}\n`;
  const inContainer = "/etc/nats/umbra-test.conf";
  return (await dockerAvailable())
    ? startContainer({
        image: "nats:2",
        port: 4222,
        scheme: "nats",
        command: [
          ...(config === undefined ? [] : ["-c", inContainer]),
          ...(jetstream ? ["-js"] : []),
        ],
        ...(config === undefined ? {} : { files: [{ content: config, target: inContainer }] }),
        readyLog: /Server is ready/,
        answers: natsAnswers,
      })
    : startLocal({
        name: "nats-server",
        binary: "nats-server",
        debianPackage: "nats-server",
        scheme: "nats",
        ...(config === undefined
          ? {}
          : {
              prepare: (_port: number, dir: string) =>
                writeFileSync(join(dir, "nats.conf"), config),
            }),
        args: (port, dir) => [
          ...(config === undefined ? [] : ["-c", join(dir, "nats.conf")]),
          "-a",
          HOST,
          "-p",
          String(port),
          ...(jetstream ? ["-js", "-sd", dir] : []),
        ],
        answers: natsAnswers,
      });
};

export interface RedisOptions {
  /** Append-only file on (in the server's temp dir), for tests that restart Redis. */
  readonly appendOnly?: boolean;
}

/** A Redis server of its own: no RDB snapshots, AOF only when asked. */
export const startRedis = async (options: RedisOptions = {}): Promise<Server> => {
  const appendOnly = options.appendOnly === true ? "yes" : "no";
  return (await dockerAvailable())
    ? startContainer({
        image: "redis:7",
        port: 6379,
        scheme: "redis",
        command: ["redis-server", "--save", "", "--appendonly", appendOnly],
        readyLog: /Ready to accept connections/,
        answers: redisAnswers,
      })
    : startLocal({
        name: "redis-server",
        binary: "redis-server",
        debianPackage: "redis-server",
        scheme: "redis",
        args: (port, dir) => [
          "--port",
          String(port),
          "--bind",
          HOST,
          "--save",
          "",
          "--appendonly",
          appendOnly,
          "--dir",
          dir,
          "--daemonize",
          "no",
        ],
        answers: redisAnswers,
      });
};

/** A Mosquitto broker of its own, tuned like a load test's reference broker. */
export const startMosquitto = (): Promise<Server> =>
  startLocal({
    name: "mosquitto",
    binary: "mosquitto",
    debianPackage: "mosquitto",
    scheme: "mqtt",
    prepare: (port, dir) =>
      writeFileSync(
        join(dir, "mosquitto.conf"),
        [
          `listener ${port} ${HOST}`,
          "allow_anonymous true",
          "persistence false",
          // No cap on QoS 1 messages in flight; a deep queue so a burst is not dropped.
          "max_inflight_messages 0",
          "max_queued_messages 10000",
          "set_tcp_nodelay true",
          "log_dest stderr",
          "log_type error",
          "log_type warning",
          "log_type notice",
          "",
        ].join("\n"),
      ),
    args: (_port, dir) => ["-c", join(dir, "mosquitto.conf")],
    answers: mqttAnswers,
  });
