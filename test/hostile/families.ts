/**
 * The fuzz families. Each is a fast-check property over hostile input; a run sends one or
 * more cases and checks what must hold for each, whatever the edge or API chooses to
 * refuse: an answer or a close within a deadline (never a hang), nothing of another
 * device or product delivered to the attacker, valid traffic answered correctly, and no
 * API request of a key scoped elsewhere succeeding on another product. The exact refusal
 * (reason code, problem type) is pinned by each handler's own tests, not here.
 */

import { THING_UPLOADS } from "@umbra/dialects";
import fc from "fast-check";
import type { Packet } from "mqtt-packet";
import { TestDevice, withDeadline } from "../src/harness.js";
import {
  aliyunRequest,
  awsRequest,
  azureReportedPatch,
  azureRid,
  type Bomb,
  bomb,
  bombBytes,
  connectPacket,
  type DeviceLogin,
  filter,
  frame,
  framedPacket,
  garbage,
  hostileString,
  mutate,
  mutation,
  thingUpload,
  validConnectExtra,
  validPacket,
  WHERES,
  type Where,
} from "./arbitraries.js";
import {
  ADMIN_KEY,
  ATTACKER,
  assertAlive,
  FROM,
  type Target,
  TENANT_KEY,
  VICTIM,
} from "./target.js";
import { httpExchange, PINGREQ, RawMqtt } from "./wire.js";

export interface FamilyContext {
  readonly target: Target;
  /** Which parallel runner: picks the attacker device, so runners never share a session. */
  readonly worker: number;
  /** Adds cases sent. */
  count(n: number): void;
  /** Counts an outcome, for the run's summary (what the edge or API did with the cases). */
  note(outcome: string, n?: number): void;
}

export type OnFailure = (value: unknown, error: unknown) => void;

export interface Family {
  readonly name: string;
  /** Property runs in a CI-sized run (each sends one or more cases). */
  readonly runs: number;
  /** Runners at once, each with its own seed and attacker device. */
  readonly parallel: number;
  /** Started before the runs, stopped after them. */
  readonly setup?: (t: Target) => Promise<() => Promise<void>>;
  property(ctx: FamilyContext, onFailure: OnFailure): fc.IAsyncProperty<[unknown]>;
}

/** An async property whose failures are also reported to `onFailure` (before shrinking). */
const property = <T>(
  arb: fc.Arbitrary<T>,
  onFailure: OnFailure,
  run: (value: T) => Promise<void>,
): fc.IAsyncProperty<[unknown]> =>
  fc.asyncProperty(arb, async (value) => {
    try {
      await run(value);
    } catch (error) {
      onFailure(value, error);
      throw error;
    }
  }) as unknown as fc.IAsyncProperty<[unknown]>;

/** How long the edge may take to answer a PINGREQ, or to close after our FIN. */
const ANSWER_MS = 5_000;

const loginOf = (ctx: FamilyContext): DeviceLogin & { me: string } => {
  const d = ctx.target.attackers[ctx.worker % ctx.target.attackers.length];
  if (d === undefined) throw new Error("no attacker device");
  return { clientId: d.deviceName, username: d.productId, password: d.token, me: d.deviceName };
};

/** Connects an attacker device over a raw socket; fails unless the edge accepts it. */
const session = async (ctx: FamilyContext, version: 4 | 5): Promise<RawMqtt> => {
  const login = loginOf(ctx);
  const raw = await RawMqtt.open(ctx.target.mqttPort, version, FROM.sessions);
  raw.write(connectPacket(login, version));
  const got = await raw.until((ps) => ps.some((p) => p.cmd === "connack"), ANSWER_MS);
  const connack = raw.packets.find((p) => p.cmd === "connack") as
    | { returnCode?: number; reasonCode?: number }
    | undefined;
  const code = connack?.returnCode ?? connack?.reasonCode;
  if (got !== "matched" || code !== 0) {
    raw.destroy();
    throw new Error(`a valid CONNECT of ${login.me} was not accepted (${got}, code ${code})`);
  }
  return raw;
};

/**
 * Nothing but the device's own topics (OneNET's, Alibaba's shadow topic, its AWS thing's
 * shadow topics) may reach it.
 */
const assertNoLeak = (raw: RawMqtt, me: string): void => {
  const own = `$sys/${ATTACKER}/${me}/`;
  const aliyun = `/shadow/get/${ATTACKER}/${me}`;
  const aws = `$aws/things/${me}/shadow/`;
  // `$iothub/…` names no device: only the session's own device subject carries it.
  for (const p of raw.packets)
    if (
      p.cmd === "publish" &&
      !p.topic.startsWith(own) &&
      p.topic !== aliyun &&
      !p.topic.startsWith(aws) &&
      !p.topic.startsWith("$iothub/")
    )
      throw new Error(`cross-tenant delivery: ${me} received a PUBLISH on '${p.topic}'`);
  if (raw.parseError !== undefined)
    throw new Error(`the edge sent bytes mqtt-packet cannot read: ${raw.parseError.message}`);
};

/** The edge answers PINGREQ or closes: a session that does neither hangs. */
const assertAnswersPing = async (raw: RawMqtt): Promise<string> => {
  raw.write(PINGREQ);
  const outcome = await raw.until((ps) => ps.some((p) => p.cmd === "pingresp"), ANSWER_MS);
  return outcome;
};

const answersPing = async (ctx: FamilyContext, raw: RawMqtt, what: string): Promise<void> => {
  const outcome = await assertAnswersPing(raw);
  ctx.note(outcome === "matched" ? "session answered PINGREQ" : "session closed by the edge");
  if (outcome === "timeout")
    throw new Error(
      `after ${what} the edge neither answered PINGREQ nor closed within ${ANSWER_MS} ms`,
    );
};

/** Writes bytes on a fresh connection, half-closes, and wants the edge to close too. */
const sendAndFinish = async (
  ctx: FamilyContext,
  bytes: Buffer,
  probe = false,
  protocolVersion = 5,
): Promise<RawMqtt> => {
  const raw = await RawMqtt.open(ctx.target.mqttPort, protocolVersion, FROM.credentials);
  raw.write(bytes);
  if (probe) raw.write(PINGREQ);
  const outcome = await raw.finish(ANSWER_MS);
  if (outcome === "timeout") {
    raw.destroy();
    throw new Error(`the edge kept the connection open ${ANSWER_MS} ms after the client's FIN`);
  }
  return raw;
};

/** Runs `tasks` with at most `limit` at once; the first failure fails all. */
const pooled = async (tasks: readonly (() => Promise<void>)[], limit: number): Promise<void> => {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, tasks.length) }, async () => {
      while (next < tasks.length) await (tasks[next++] as () => Promise<void>)();
    }),
  );
};

const version = fc.constantFrom(4, 5) as fc.Arbitrary<4 | 5>;

// ---- MQTT ----------------------------------------------------------------------------

/** Reconnections one run of mqtt-framed may make after the edge closed its session. */
const MAX_SESSIONS_PER_RUN = 12;

const mqttFramed: Family = {
  name: "mqtt-framed",
  runs: 400,
  parallel: 8,
  property: (ctx, onFailure) => {
    const { me } = loginOf(ctx);
    const arb = version.chain((v) =>
      fc.record({
        version: fc.constant(v),
        packets: fc.array(framedPacket(me, v), { minLength: 1, maxLength: 60, size: "medium" }),
      }),
    );
    return property(arb, onFailure, async ({ version: v, packets }) => {
      assertAlive(ctx.target);
      const framed = packets
        .map((p) => ({ cmd: p.cmd, bytes: frame(p, v) }))
        .filter((f): f is { cmd: Packet["cmd"]; bytes: Buffer } => f.bytes !== undefined);
      // Each packet is followed by a PINGREQ: the edge reads in order, so the PINGRESPs
      // count the packets it went past. When it closes the session, the packet after
      // them is the one it refused; the rest go on a new session.
      let at = 0;
      for (let sessions = 0; at < framed.length && sessions < MAX_SESSIONS_PER_RUN; sessions++) {
        const raw = await session(ctx, v);
        try {
          const rest = framed.slice(at);
          raw.write(Buffer.concat(rest.flatMap((f) => [f.bytes, PINGREQ])));
          const outcome = await raw.until(
            (ps) => ps.filter((p) => p.cmd === "pingresp").length >= rest.length,
            ANSWER_MS,
          );
          const passed = raw.count("pingresp");
          assertNoLeak(raw, me);
          if (outcome === "timeout")
            throw new Error(
              `the edge answered ${passed} of ${rest.length} PINGREQs, then neither the next nor closed within ${ANSWER_MS} ms (packet ${at + passed}: ${rest[passed]?.cmd})`,
            );
          ctx.count(Math.min(rest.length, passed + 1));
          ctx.note("packets read", passed);
          if (outcome === "closed")
            ctx.note(`session closed at a ${rest[passed]?.cmd ?? "PINGREQ"}`);
          at += passed + 1;
        } finally {
          raw.destroy();
        }
      }
    });
  },
};

const rawGarbage: Family = {
  name: "raw-garbage",
  runs: 600,
  parallel: 4,
  property: (ctx, onFailure) =>
    property(fc.array(garbage, { minLength: 1, maxLength: 8 }), onFailure, async (blobs) => {
      assertAlive(ctx.target);
      await Promise.all(blobs.map((b) => sendAndFinish(ctx, b).then((r) => r.destroy())));
      ctx.count(blobs.length);
    }),
};

/** A valid CONNECT (with will and properties) and a valid packet behind it. */
const validStream = (ctx: FamilyContext) => {
  const login = loginOf(ctx);
  return version.chain((v) =>
    fc.record({
      version: fc.constant(v),
      extra: validConnectExtra(v),
      after: validPacket(login.me),
    }),
  );
};

const streamBytes = (
  login: DeviceLogin,
  s: { version: 4 | 5; extra: object; after: Packet },
): [Buffer, Buffer] => [
  connectPacket(login, s.version, s.extra),
  frame(s.after, s.version) ?? Buffer.alloc(0),
];

/**
 * Writes bytes on an accepted session, then a PINGREQ and FIN: the edge must close within
 * the deadline. Whether it answered the PINGREQ first is counted (a length that promises
 * more bytes swallows it).
 */
const afterConnect = async (ctx: FamilyContext, v: 4 | 5, bytes: Buffer): Promise<RawMqtt> => {
  const raw = await session(ctx, v);
  raw.write(Buffer.concat([bytes, PINGREQ]));
  if ((await raw.finish(ANSWER_MS)) === "timeout") {
    raw.destroy();
    throw new Error(`the edge kept the session open ${ANSWER_MS} ms after the client's FIN`);
  }
  ctx.note(
    raw.count("pingresp") > 0 ? "session answered PINGREQ" : "session closed, PINGREQ unanswered",
  );
  return raw;
};

const truncation: Family = {
  name: "truncation",
  runs: 24,
  parallel: 2,
  property: (ctx, onFailure) => {
    const login = loginOf(ctx);
    return property(validStream(ctx), onFailure, async (s) => {
      assertAlive(ctx.target);
      const [connect, after] = streamBytes(login, s);
      const cut = async (at: number, run: () => Promise<RawMqtt>) => {
        try {
          (await run()).destroy();
        } catch (error) {
          throw new Error(
            `cut at ${at} of ${connect.length + after.length}: ${(error as Error).message}`,
          );
        }
      };
      // The CONNECT cut at every offset, each prefix on its own connection, then FIN.
      await pooled(
        Array.from(
          { length: connect.length - 1 },
          (_, i) => () => cut(i + 1, () => sendAndFinish(ctx, connect.subarray(0, i + 1))),
        ),
        16,
      );
      // The packet after it cut at every offset, on an accepted session (one at a time:
      // sessions of one device take each other over).
      for (let i = 1; i < after.length; i++)
        await cut(connect.length + i, () => afterConnect(ctx, s.version, after.subarray(0, i)));
      ctx.count(connect.length - 1 + Math.max(0, after.length - 1));
    });
  },
};

const mutated: Family = {
  name: "mutation",
  runs: 900,
  parallel: 6,
  property: (ctx, onFailure) => {
    const login = loginOf(ctx);
    const arb = fc.array(
      fc.record({
        stream: validStream(ctx),
        which: fc.constantFrom("connect", "after") as fc.Arbitrary<"connect" | "after">,
        mutations: fc.array(mutation, { minLength: 1, maxLength: 3 }),
      }),
      { minLength: 1, maxLength: 4 },
    );
    return property(arb, onFailure, async (cases) => {
      assertAlive(ctx.target);
      // Sequential: the same device's sessions would take each other over.
      for (const c of cases) {
        let [connect, after] = streamBytes(login, c.stream);
        let raw: RawMqtt;
        if (c.which === "connect") {
          for (const m of c.mutations) connect = mutate(connect, m);
          raw = await sendAndFinish(ctx, Buffer.concat([connect, after]), true, c.stream.version);
          ctx.note(
            raw.count("connack") > 0
              ? "mutated CONNECT answered with CONNACK"
              : "mutated CONNECT closed",
          );
        } else {
          for (const m of c.mutations) after = mutate(after, m);
          raw = await afterConnect(ctx, c.stream.version, after);
        }
        raw.destroy();
        assertNoLeak(raw, login.me);
        ctx.count(1);
      }
    });
  },
};

/**
 * A request round on an accepted session: subscribes `filter`, publishes each payload at
 * QoS 1 on `topic` in one write, and wants every one to get its PUBACK and an answer
 * (a PUBLISH `isAnswer` accepts) within 15 s.
 */
const requestRound = async (
  ctx: FamilyContext,
  raw: RawMqtt,
  v: 4 | 5,
  round: {
    readonly filter: string;
    /** One topic for every request, or each request's own. */
    readonly topic: string | readonly string[];
    readonly payloads: readonly Buffer[];
    readonly isAnswer: (topic: string) => boolean;
    readonly what: string;
    /** Answers to wait for, when not every payload gets one (Azure method results). */
    readonly answers?: number;
  },
): Promise<void> => {
  const { filter, topic, payloads, isAnswer, what } = round;
  const expected = round.answers ?? payloads.length;
  raw.write(
    frame(
      { cmd: "subscribe", messageId: 1, subscriptions: [{ topic: filter, qos: 0 }] },
      v,
    ) as Buffer,
  );
  if ((await raw.until((ps) => ps.some((p) => p.cmd === "suback"), ANSWER_MS)) !== "matched")
    throw new Error(`no SUBACK for ${filter}`);
  const frames = payloads.map(
    (payload, i) =>
      frame(
        {
          cmd: "publish",
          topic: typeof topic === "string" ? topic : (topic[i] as string),
          payload,
          qos: 1,
          messageId: i + 2,
          retain: false,
          dup: false,
        },
        v,
      ) as Buffer,
  );
  raw.write(Buffer.concat(frames));
  ctx.count(payloads.length);
  const answers = (ps: readonly Packet[]) =>
    ps.filter((p) => p.cmd === "publish" && isAnswer(p.topic)).length;
  const outcome = await raw.until(
    (ps) =>
      ps.filter((p) => p.cmd === "puback").length >= payloads.length && answers(ps) >= expected,
    15_000,
  );
  if (outcome !== "matched")
    throw new Error(
      `${payloads.length} ${what}: ${raw.count("puback")} PUBACKs and ${answers(raw.packets)} answers, then ${outcome}`,
    );
};

/** Largest bomb size for MQTT: the biggest shape (6 bytes a level) stays below 64 KiB. */
const MQTT_BOMB = 8_000;

const jsonBombsMqtt: Family = {
  name: "json-bombs-mqtt",
  runs: 360,
  parallel: 8,
  property: (ctx, onFailure) => {
    const { me } = loginOf(ctx);
    const own = `$sys/${ATTACKER}/${me}/image`;
    const arb = fc.record({
      version,
      bombs: fc.array(bomb(MQTT_BOMB), { minLength: 1, maxLength: 8 }),
    });
    return property(arb, onFailure, async ({ version: v, bombs }) => {
      assertAlive(ctx.target);
      const raw = await session(ctx, v);
      try {
        // Every update gets its PUBACK and exactly one answer, accepted or rejected.
        await requestRound(ctx, raw, v, {
          filter: `${own}/#`,
          topic: `${own}/update`,
          payloads: bombs.map((b: Bomb) => bombBytes(b)),
          isAnswer: (t) => t === `${own}/update/accepted` || t === `${own}/update/rejected`,
          what: "updates",
        });
        ctx.note(
          "rejected",
          raw.packets.filter((p) => p.cmd === "publish" && p.topic.endsWith("/rejected")).length,
        );
        ctx.note(
          "accepted",
          raw.packets.filter((p) => p.cmd === "publish" && p.topic.endsWith("/accepted")).length,
        );
        assertNoLeak(raw, me);
      } finally {
        raw.destroy();
      }
    });
  },
};

/**
 * Alibaba shadow requests (seed 002) on the device's own `/shadow/update/{pk}/{dn}`:
 * envelopes with every field missing or wrong, non-JSON bytes, JSON bombs. Each gets its
 * PUBACK and exactly one reply on `/shadow/get/{pk}/{dn}` (success or an error code).
 */
/**
 * AWS shadow requests on the session's own thing, classic or named shadow: bodies with
 * every field missing or wrong, tokens past 64 bytes, JSON bombs, non-JSON. Each gets its
 * PUBACK and exactly one `{op}/accepted` or `{op}/rejected`, echoing the request's
 * clientToken when it had a readable one; a round's requests go to one shadow, in order.
 */
const awsRequests: Family = {
  name: "aws-requests",
  runs: 240,
  parallel: 8,
  property: (ctx, onFailure) => {
    const { me } = loginOf(ctx);
    const arb = fc.record({
      version,
      op: fc.constantFrom("update", "update", "get", "delete"),
      shadow: fc.constantFrom(undefined, "fz", "fz-2"),
      requests: fc.array(awsRequest(MQTT_BOMB), { minLength: 1, maxLength: 8 }),
    });
    return property(arb, onFailure, async ({ version: v, op, shadow, requests }) => {
      assertAlive(ctx.target);
      const prefix = `$aws/things/${me}/shadow${shadow === undefined ? "" : `/name/${shadow}`}`;
      const answered = (t: string) =>
        t === `${prefix}/${op}/accepted` || t === `${prefix}/${op}/rejected`;
      const raw = await session(ctx, v);
      try {
        await requestRound(ctx, raw, v, {
          filter: `${prefix}/#`,
          topic: `${prefix}/${op}`,
          payloads: requests.map((r) => r.body),
          isAnswer: answered,
          what: `AWS ${op} requests`,
        });
        const answers = raw.packets.filter((p) => p.cmd === "publish" && answered(p.topic));
        requests.forEach((request, i) => {
          const answer = answers[i];
          if (answer?.cmd !== "publish") return;
          const body = JSON.parse(answer.payload.toString()) as { clientToken?: string };
          if (request.token !== undefined && body.clientToken !== request.token)
            throw new Error(
              `request ${i} had clientToken ${JSON.stringify(request.token)}; its answer on ${answer.topic} echoed ${JSON.stringify(body.clientToken)}`,
            );
          ctx.note(answer.topic.endsWith("/accepted") ? "accepted" : "rejected");
        });
        assertNoLeak(raw, me);
      } finally {
        raw.destroy();
      }
    });
  },
};

/**
 * Azure twin requests on the connection's own twin: reported patches with refused names,
 * acks right and wrong, components, nesting past IoT Hub's limits, JSON bombs and bytes
 * that are not JSON, and GETs, each with its own `$rid`, mixed with method results no
 * call is waiting for. Each twin request gets its PUBACK and exactly one
 * `$iothub/twin/res/{status}/?$rid=` echoing its `$rid` byte for byte: 200 with the twin,
 * 204 with `&$version=`, or an error status with an `errorCode` and `message` body.
 */
const azureRequests: Family = {
  name: "azure-requests",
  runs: 240,
  parallel: 8,
  property: (ctx, onFailure) => {
    const arb = fc.record({
      version,
      requests: fc.array(
        fc.record({
          op: fc.constantFrom("reported", "reported", "get", "method"),
          rid: azureRid,
          body: azureReportedPatch(MQTT_BOMB),
          status: fc.constantFrom(200, 404, 500, 999999999),
        }),
        { minLength: 1, maxLength: 8 },
      ),
    });
    return property(arb, onFailure, async ({ version: v, requests }) => {
      assertAlive(ctx.target);
      const { me } = loginOf(ctx);
      const raw = await session(ctx, v);
      try {
        // A method result is answered by nothing: sent ahead, its PUBACK is all it gets.
        const methods = requests.filter((r) => r.op === "method");
        const twin = requests
          .filter((r) => r.op !== "method")
          .map((r, i) => ({ ...r, rid: `${r.rid}-${i}` }));
        const topics = [
          ...methods.map((r) => `$iothub/methods/res/${r.status}/?$rid=${r.rid}`),
          ...twin.map((r) =>
            r.op === "get"
              ? `$iothub/twin/GET/?$rid=${r.rid}`
              : `$iothub/twin/PATCH/properties/reported/?$rid=${r.rid}`,
          ),
        ];
        const answered = (t: string) => t.startsWith("$iothub/twin/res/");
        await requestRound(ctx, raw, v, {
          filter: "$iothub/twin/res/#",
          topic: topics,
          payloads: [...methods, ...twin].map((r) => (r.op === "get" ? Buffer.alloc(0) : r.body)),
          isAnswer: answered,
          what: "Azure twin requests",
          answers: twin.length,
        });
        const answers = raw.packets.filter((p) => p.cmd === "publish" && answered(p.topic));
        if (answers.length !== twin.length)
          throw new Error(`${twin.length} twin requests got ${answers.length} answers`);
        twin.forEach((request, i) => {
          const answer = answers[i];
          if (answer?.cmd !== "publish") return;
          const m = /^\$iothub\/twin\/res\/(\d+)\/\?\$rid=([^&]*)/.exec(answer.topic);
          if (m?.[2] !== request.rid)
            throw new Error(`request ${i} had $rid ${request.rid}; answered on ${answer.topic}`);
          const status = Number(m[1]);
          if (status >= 300) {
            const body = JSON.parse(answer.payload.toString()) as {
              errorCode?: unknown;
              message?: unknown;
            };
            if (typeof body.errorCode !== "number" || typeof body.message !== "string")
              throw new Error(
                `error answer without errorCode/message: ${answer.payload.toString()}`,
              );
          }
          ctx.note(status < 300 ? "accepted" : "rejected");
        });
        assertNoLeak(raw, me);
      } finally {
        raw.destroy();
      }
    });
  },
};

/**
 * OneNET thing-model uploads on the device's own `$sys/{pid}/{dn}/thing/…`: envelopes
 * with every field missing or wrong, values with and without times, batch and history
 * entries naming the victim's device (another product) or nothing, past every bound,
 * JSON bombs, non-JSON bytes. Each gets its PUBACK and exactly one `…/reply` with a
 * numeric `code`, echoing the request's `id` whenever the body is JSON with a readable
 * one; the victim's shadow stays as it was (checked after the family).
 */
const thingUploads: Family = {
  name: "onenet-thing",
  runs: 240,
  parallel: 8,
  property: (ctx, onFailure) => {
    const { me } = loginOf(ctx);
    const stranger = { productID: VICTIM, deviceName: ctx.target.victim.deviceName };
    const arb = fc.record({
      version,
      upload: fc.constantFrom(...THING_UPLOADS),
      bodies: fc.array(thingUpload(MQTT_BOMB, stranger), { minLength: 1, maxLength: 6 }),
    });
    return property(arb, onFailure, async ({ version: v, upload, bodies }) => {
      assertAlive(ctx.target);
      const topic = `$sys/${ATTACKER}/${me}/thing/${upload}`;
      const replyTopic = `${topic}/reply`;
      const raw = await session(ctx, v);
      try {
        await requestRound(ctx, raw, v, {
          filter: replyTopic,
          topic,
          payloads: bodies,
          isAnswer: (t) => t === replyTopic,
          what: `thing ${upload} uploads`,
        });
        // Replies are matched by id, as a device does: a pack waits for its writes while a
        // refusal behind it is answered at once, so they need not come in request order.
        const replied: unknown[] = [];
        for (const p of raw.packets) {
          if (p.cmd !== "publish" || p.topic !== replyTopic) continue;
          const got = JSON.parse(p.payload.toString()) as { id?: unknown; code?: unknown };
          if (typeof got.code !== "number")
            throw new Error(`a reply without a numeric code: ${p.payload.toString()}`);
          replied.push(got.id);
          ctx.note(got.code === 200 ? "accepted" : "rejected");
        }
        bodies.forEach((body, i) => {
          const sent = readableId(body);
          if (sent === undefined) return;
          const at = replied.indexOf(sent);
          if (at === -1)
            throw new Error(
              `upload ${i} had id ${sent}; no reply echoed it (${JSON.stringify(replied)})`,
            );
          replied.splice(at, 1);
        });
        assertNoLeak(raw, me);
      } finally {
        raw.destroy();
      }
    });
  },
};

/** The `id` of a JSON body, when it is a string of 1–13 digits (what a reply echoes). */
const readableId = (body: Buffer): string | undefined => {
  try {
    const parsed = JSON.parse(body.toString("utf8")) as { id?: unknown } | null;
    const id = typeof parsed === "object" && parsed !== null ? parsed.id : undefined;
    return typeof id === "string" && /^[0-9]{1,13}$/.test(id) ? id : undefined;
  } catch {
    return undefined;
  }
};

const aliyunRequests: Family = {
  name: "aliyun-requests",
  runs: 240,
  parallel: 8,
  property: (ctx, onFailure) => {
    const { me } = loginOf(ctx);
    const update = `/shadow/update/${ATTACKER}/${me}`;
    const get = `/shadow/get/${ATTACKER}/${me}`;
    const arb = fc.record({
      version,
      bodies: fc.array(aliyunRequest(MQTT_BOMB), { minLength: 1, maxLength: 8 }),
    });
    return property(arb, onFailure, async ({ version: v, bodies }) => {
      assertAlive(ctx.target);
      const raw = await session(ctx, v);
      try {
        await requestRound(ctx, raw, v, {
          filter: get,
          topic: update,
          payloads: bodies,
          isAnswer: (t) => t === get,
          what: "requests",
        });
        for (const p of raw.packets) {
          if (p.cmd !== "publish" || p.topic !== get) continue;
          const reply = JSON.parse(p.payload.toString()) as {
            method?: string;
            payload?: { status?: string };
          };
          if (reply.method !== "reply")
            throw new Error(`a request was answered with ${p.payload.toString().slice(0, 200)}`);
          ctx.note(reply.payload?.status === "success" ? "accepted" : "rejected");
        }
        assertNoLeak(raw, me);
      } finally {
        raw.destroy();
      }
    });
  },
};

/** The victim's second device publishing all the time: a leaky filter would receive it. */
class Noise {
  answers = 0;
  running = true;
  #waiters: (() => void)[] = [];

  answered(): void {
    this.answers++;
    for (const wake of this.#waiters.splice(0)) wake();
  }

  /** Resolves once `more` answers came after now; false if not within `ms`. */
  async more(more: number, ms: number): Promise<boolean> {
    const until = this.answers + more;
    const deadline = Date.now() + ms;
    while (this.answers < until) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return true;
  }
}
let noise: Noise | undefined;

const foreignTopics: Family = {
  name: "foreign-topics",
  runs: 360,
  parallel: 8,
  setup: async (t) => {
    const d = await TestDevice.connect(`mqtt://127.0.0.1:${t.mqttPort}`, t.noisy, {
      subscribe: [`$sys/${VICTIM}/${t.noisy.deviceName}/image/update/accepted`],
    });
    const state = new Noise();
    d.client.on("message", () => state.answered());
    noise = state;
    const loop = (async () => {
      for (let i = 0; state.running; i++)
        await d.client.publishAsync(
          `$sys/${VICTIM}/${t.noisy.deviceName}/image/update`,
          JSON.stringify({ state: { reported: { n: i } } }),
          { qos: 1 },
        );
    })().catch(() => {
      // Closed under it (by the teardown, or by the edge): the runs then see no answers.
    });
    return async () => {
      state.running = false;
      noise = undefined;
      // Closing first settles a publish left unanswered (a dead shard never answers it).
      await d.close();
      await withDeadline(loop, ANSWER_MS, () => "the victim's noise device did not stop").catch(
        () => undefined,
      );
    };
  },
  property: (ctx, onFailure) => {
    const { me } = loginOf(ctx);
    const foreign = fc.constantFrom(
      `$sys/${VICTIM}/v1/image/update`,
      `$sys/${VICTIM}/v1/image/get`,
      `$sys/${VICTIM}/v2/image/update`,
      `$sys/${VICTIM}/v2/image/update/accepted`,
      `$sys/${VICTIM}/v1/thing/sub/property/set_reply`,
      `$sys/${ATTACKER}/gw/thing/sub/property/get_reply`,
      `$sys/${ATTACKER}/a15/image/update`,
      `$sys/${ATTACKER}/${me}/../../${VICTIM}/v1/image/update`,
      `/shadow/update/${VICTIM}/v1`,
      `/shadow/update/${VICTIM}/v2`,
      `/shadow/get/${ATTACKER}/${me}`,
      `/shadow/update/${ATTACKER}/${me}/../../${VICTIM}/v1`,
      // AWS forms name no product: another thing is another device of the session's.
      "$aws/things/v1/shadow/update",
      "$aws/things/a15/shadow/update",
      "$aws/things/a15/shadow/name/lamp/update",
      `$aws/things/${me}/shadow/../../a15/shadow/update`,
      `$aws/things/${me}/shadow/update/accepted`,
      `$aws/things/${me}/shadow/name/../../../a15/shadow/delete`,
    );
    const arb = fc.record({
      version,
      filters: fc.array(filter(me), { minLength: 1, maxLength: 6 }),
      publishes: fc.array(
        fc.record({ topic: foreign, qos: fc.constantFrom(0, 1) as fc.Arbitrary<0 | 1> }),
        {
          minLength: 1,
          maxLength: 6,
        },
      ),
    });
    return property(arb, onFailure, async ({ version: v, filters, publishes }) => {
      assertAlive(ctx.target);
      const raw = await session(ctx, v);
      try {
        const frames = [
          frame(
            {
              cmd: "subscribe",
              messageId: 1,
              subscriptions: filters.map((topic) => ({ topic, qos: 1 })),
            },
            v,
          ),
          ...publishes.map((p, i) =>
            frame(
              {
                cmd: "publish",
                topic: p.topic,
                payload: Buffer.from(
                  '{"state":{"desired":{"pwned":true},"reported":{"pwned":true}}}',
                ),
                qos: p.qos,
                messageId: i + 2,
                retain: false,
                dup: false,
              },
              v,
            ),
          ),
        ].filter((b) => b !== undefined);
        raw.write(Buffer.concat(frames));
        ctx.count(frames.length);
        await answersPing(ctx, raw, "foreign subscribes and publishes");
        // The victim's traffic flowed after the subscriptions: a leak would have arrived.
        const n = noise;
        if (n !== undefined && !raw.closed && !(await n.more(2, ANSWER_MS)))
          throw new Error("the victim's noise device got no answers");
        assertNoLeak(raw, me);
      } finally {
        raw.destroy();
      }
    });
  },
};

// ---- HTTP API ------------------------------------------------------------------------

const ROUTES = [
  "merge",
  "twin",
  "function",
  "function-get",
  "gw-get",
  "gw-set",
  "gw-invoke",
  "dev-get",
  "dev-set",
  "dev-invoke",
  "register",
  "link",
  "unlink",
  "token",
  "shadow-get",
] as const;
type RouteName = (typeof ROUTES)[number];

const KEYS = {
  admin: ADMIN_KEY,
  tenant: TENANT_KEY,
  bogus: "not-a-key-0123456789abcdef",
  none: "",
};
type KeyName = keyof typeof KEYS;

const UNRESERVED = /[A-Za-z0-9._~-]/;

/**
 * A path segment, percent-encoded from its UTF-8 bytes as a client library would, or raw
 * as an attacker would (only bytes that cannot be on a request line at all are escaped,
 * so `/`, `?`, `#`, `%` and `..` reach the server as they are).
 */
const segment = (s: string, raw: boolean): string => {
  let out = "";
  for (const b of Buffer.from(s, "utf8")) {
    const c = String.fromCharCode(b);
    const keep = raw ? b > 0x20 && b < 0x7f : UNRESERVED.test(c);
    out += keep ? c : `%${b.toString(16).padStart(2, "0").toUpperCase()}`;
  }
  return out;
};

const name = (known: readonly string[]) =>
  fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...known) },
    { weight: 1, arbitrary: hostileString(40) },
  );

interface ApiCase {
  route: RouteName;
  product: string;
  device: string;
  subProduct: string;
  subDevice: string;
  identifier: string;
  key: KeyName;
  rawPath: boolean;
  body: Buffer | undefined;
  contentType: string | undefined;
  headers: { name: string; value: string }[];
  lie: "none" | "short" | "long" | "chunked";
}

const jsonBody = (route: RouteName): fc.Arbitrary<Buffer> => {
  const json = (a: fc.Arbitrary<unknown>) => a.map((v) => Buffer.from(JSON.stringify(v) ?? "null"));
  const obj = fc.dictionary(hostileString(24), fc.jsonValue({ maxDepth: 4 }), { maxKeys: 6 });
  switch (route) {
    case "merge":
      return json(
        fc.oneof(
          fc.record({ desired: obj }),
          fc.record({ desired: fc.jsonValue() }),
          fc.jsonValue(),
        ),
      );
    case "twin":
      return json(
        fc.array(
          fc.record(
            {
              op: fc.oneof(fc.constantFrom("add", "replace", "remove"), hostileString(8)),
              path: fc.oneof(
                fc.constantFrom(
                  "/t",
                  "/c/p",
                  "",
                  "/",
                  "~",
                  "/~2",
                  "/__proto__/x",
                  "/a/b/c/d/e/f/g",
                ),
                hostileString(60),
              ),
              value: fc.jsonValue({ maxDepth: 4 }),
            },
            { requiredKeys: ["op", "path"] },
          ),
          { maxLength: 8 },
        ),
      );
    case "function":
      return json(
        fc.record(
          {
            // Mostly of the right type, so that hostile values reach the shard.
            funcKey: fc.oneof(fc.constantFrom("reboot", "$x", ""), hostileString(200)),
            params: fc.oneof(
              { weight: 3, arbitrary: obj },
              { weight: 1, arbitrary: fc.jsonValue() },
            ),
            timeout: fc.oneof(
              { weight: 3, arbitrary: fc.integer({ min: 1, max: 604_800 }) },
              {
                weight: 1,
                arbitrary: fc.oneof(fc.integer(), fc.double(), fc.constant(Number.MAX_VALUE)),
              },
            ),
          },
          { requiredKeys: ["funcKey"] },
        ),
      );
    case "gw-get":
    case "dev-get":
      return json(
        fc.record({
          params: fc.oneof(fc.array(hostileString(20), { maxLength: 60 }), fc.jsonValue()),
        }),
      );
    case "gw-set":
    case "gw-invoke":
    case "dev-set":
    case "dev-invoke":
      return json(fc.record({ params: fc.oneof(obj, fc.jsonValue()) }));
    case "register":
      return json(
        fc.record(
          { name: hostileString(80), extra: fc.jsonValue({ maxDepth: 2 }) },
          { requiredKeys: ["name"] },
        ),
      );
    case "token":
      return json(
        fc.record(
          {
            method: fc.oneof(fc.constantFrom("md5", "sha1", "sha256"), hostileString(10)),
            expiresAt: fc.oneof(fc.integer(), fc.double()),
          },
          { requiredKeys: [] },
        ),
      );
    default:
      return fc.constant(Buffer.alloc(0));
  }
};

const RIGHT_TYPE: Partial<Record<RouteName, string>> = {
  merge: "application/merge-patch+json",
  twin: "application/json-patch+json",
};

/** The API's body limit by default is 16 KiB: bombs go to it and past it. */
const API_BOMB = 20_000;

/** Where in each route's body a bomb goes, so that it passes the body's outer shape. */
const BOMB_HOME: Partial<Record<RouteName, Where>> = {
  merge: "patch",
  twin: "twin",
  function: "function",
  "gw-set": "params",
  "gw-invoke": "params",
  "dev-set": "params",
  "dev-invoke": "params",
  register: "name",
};
const BODY_ROUTES = Object.keys(BOMB_HOME) as RouteName[];

const apiCase = (bodies: "hostile" | "bombs"): fc.Arbitrary<ApiCase> =>
  fc
    .record({
      route: bodies === "bombs" ? fc.constantFrom(...BODY_ROUTES) : fc.constantFrom(...ROUTES),
      product: name([ATTACKER, ATTACKER, ATTACKER, VICTIM]),
      device: name(["a0", "a0", "a0", "gw", "v1", "v2", "nosuch"]),
      subProduct: name([ATTACKER, VICTIM]),
      subDevice: name(["a1", "v1", "v2", "nosuch"]),
      identifier: name(["reboot", "x:y"]),
      key: fc.constantFrom<KeyName>(
        "tenant",
        "tenant",
        "tenant",
        "tenant",
        "admin",
        "admin",
        "bogus",
        "none",
      ),
      rawPath: fc.boolean(),
      bodyKind: fc.constantFrom("route", "route", "bomb", "bytes"),
      bomb: bomb(API_BOMB, WHERES),
      bytes: fc.uint8Array({ maxLength: 512 }),
      contentType: fc.oneof(
        { weight: 8, arbitrary: fc.constant(undefined) },
        {
          weight: 1,
          arbitrary: fc.constantFrom(
            "application/json",
            "text/plain",
            "application/merge-patch+json; charset=latin1",
            "application/json-patch+json",
            "",
            "application/json, application/json",
          ),
        },
        { weight: 1, arbitrary: hostileString(40) },
      ),
      headers: fc.array(
        fc.record({
          name: fc.constantFrom(
            "if-match",
            "if-match",
            "x-forwarded-for",
            "accept",
            "content-encoding",
            "expect",
            "last-event-id",
            "x-h",
            "x-h",
          ),
          value: fc.oneof(
            fc.constantFrom('"1"', '"99999999999999999999"', "*", 'W/"1"', "100-continue", "gzip"),
            hostileString(100),
          ),
        }),
        { maxLength: 3 },
      ),
      lie: fc.constantFrom(
        "none",
        "none",
        "none",
        "none",
        "none",
        "none",
        "none",
        "short",
        "long",
        "chunked",
      ) as fc.Arbitrary<ApiCase["lie"]>,
    })
    // In the bombs family the bomb sits where the route's body holds values (shown so in
    // a counterexample).
    .map((r) =>
      bodies === "bombs"
        ? { ...r, bodyKind: "bomb", bomb: { ...r.bomb, where: BOMB_HOME[r.route] ?? r.bomb.where } }
        : r,
    )
    .chain((r) =>
      (r.bodyKind === "bomb"
        ? fc.constant(bombBytes(r.bomb))
        : r.bodyKind === "bytes"
          ? fc.constant(Buffer.from(r.bytes))
          : jsonBody(r.route)
      ).map((body) => {
        // The admin key is a careless application of the attacker's, not the victim's
        // operator: it never names the victim's product.
        const key: KeyName = r.key === "admin" && names(r).includes(VICTIM) ? "tenant" : r.key;
        return { ...r, key, body: body.length === 0 && r.route.endsWith("get") ? undefined : body };
      }),
    );

const names = (c: Pick<ApiCase, "route" | "product" | "subProduct">): string[] =>
  c.route.startsWith("gw") || c.route === "link" || c.route === "unlink"
    ? [c.product, c.subProduct]
    : [c.product];

const requestOf = (c: ApiCase): Buffer => {
  const seg = (s: string) => segment(s, c.rawPath);
  const dev = `/v1/products/${seg(c.product)}/devices/${seg(c.device)}`;
  const sub = `${dev}/subdevices/${seg(c.subProduct)}/${seg(c.subDevice)}`;
  const [method, path] = ((): [string, string] => {
    switch (c.route) {
      case "merge":
        return ["PATCH", `${dev}/shadow`];
      case "twin":
        return ["PATCH", `${dev}/twin`];
      case "function":
        return ["POST", `${dev}/functions`];
      case "function-get":
        return ["GET", `${dev}/functions/${seg(c.identifier)}`];
      case "gw-get":
        return ["POST", `${sub}/properties:get`];
      case "gw-set":
        return ["POST", `${sub}/properties:set`];
      case "gw-invoke":
        return ["POST", `${sub}/services/${seg(c.identifier)}:invoke`];
      case "dev-get":
        return ["POST", `${dev}/properties:get`];
      case "dev-set":
        return ["POST", `${dev}/properties:set`];
      case "dev-invoke":
        return ["POST", `${dev}/services/${seg(c.identifier)}:invoke`];
      case "register":
        return ["POST", `/v1/products/${seg(c.product)}/devices`];
      case "link":
        return ["PUT", sub];
      case "unlink":
        return ["DELETE", sub];
      case "token":
        return ["POST", `${dev}/token`];
      case "shadow-get":
        return ["GET", `${dev}/shadow`];
    }
  })();
  const lines = [`${method} ${path} HTTP/1.1`, "host: 127.0.0.1", "connection: close"];
  if (KEYS[c.key] !== "") lines.push(`authorization: Bearer ${KEYS[c.key]}`);
  for (const h of c.headers) lines.push(`${h.name}: ${h.value}`);
  const body = c.body ?? Buffer.alloc(0);
  if (c.body !== undefined)
    lines.push(`content-type: ${c.contentType ?? RIGHT_TYPE[c.route] ?? "application/json"}`);
  switch (c.lie) {
    case "none":
      if (c.body !== undefined) lines.push(`content-length: ${body.length}`);
      break;
    case "short":
      lines.push(`content-length: ${Math.max(0, body.length - 3)}`);
      break;
    case "long":
      lines.push(`content-length: ${body.length + 100}`);
      break;
    case "chunked":
      lines.push(`content-length: ${body.length}`, "transfer-encoding: chunked");
      break;
  }
  return Buffer.concat([Buffer.from(`${lines.join("\r\n")}\r\n\r\n`, "utf8"), body]);
};

/** An answer for a report: the status line and the body, without the other headers. */
const brief = (text: string): string => {
  const status = text.slice(0, text.indexOf("\r\n"));
  const body = text.slice(text.lastIndexOf("\r\n\r\n") + 4);
  return `${status} ${body.slice(0, 300)}`;
};

/** 5xx the API may answer (the bus or a gateway unavailable or late); 500 means a bug. */
const ALLOWED_5XX = new Set([502, 503, 504]);

const apiFamily = (name: string, bodies: "hostile" | "bombs", runs: number): Family => ({
  name,
  runs,
  parallel: 8,
  property: (ctx, onFailure) =>
    property(apiCase(bodies), onFailure, async (c) => {
      assertAlive(ctx.target);
      const reply = await httpExchange(
        ctx.target.httpPort,
        requestOf(c),
        10_000,
        c.key === "bogus" || c.key === "none" ? FROM.unkeyed : FROM.keyed,
        c.lie === "long",
      );
      ctx.count(1);
      ctx.note(`HTTP ${reply.status ?? "none"}`);
      if (reply.outcome === "timeout")
        throw new Error("the API neither answered nor closed within 10 s");
      if (reply.status === undefined) {
        // Only a request whose framing lies may be dropped without an answer.
        if (c.lie === "none")
          throw new Error(`the API closed without an answer: ${JSON.stringify(reply.text)}`);
        return;
      }
      if (reply.status >= 500 && !ALLOWED_5XX.has(reply.status))
        throw new Error(`the API answered ${reply.status}: ${brief(reply.text)}`);
      if (reply.status < 300) {
        if (c.key === "bogus" || c.key === "none")
          throw new Error(`key '${c.key}' got ${reply.status} on ${c.route}: ${brief(reply.text)}`);
        const foreign = names(c).filter((p) => p !== ATTACKER);
        if (c.key === "tenant" && foreign.length > 0)
          throw new Error(
            `cross-tenant: a key scoped to '${ATTACKER}' got ${reply.status} on ${c.route} naming product(s) ${JSON.stringify(foreign)}: ${brief(reply.text)}`,
          );
      }
    }),
});

export const FAMILIES: readonly Family[] = [
  mqttFramed,
  rawGarbage,
  truncation,
  mutated,
  jsonBombsMqtt,
  aliyunRequests,
  awsRequests,
  azureRequests,
  thingUploads,
  foreignTopics,
  apiFamily("api-bodies", "hostile", 6_000),
  apiFamily("api-bombs", "bombs", 2_000),
];
