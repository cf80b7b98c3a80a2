/**
 * fast-check arbitraries of hostile input: strings and topics, JSON bombs, MQTT packets
 * (as objects mqtt-packet's generate() turns into framed bytes), raw garbage and
 * mutations of valid packets. Values stay small descriptions where possible (a bomb is
 * its shape and size, not its megabytes), so a shrunk counterexample is readable.
 */
import fc from "fast-check";
import mqttPacket, { type Packet } from "mqtt-packet";
import { ATTACKER, VICTIM } from "./target.js";

/** Strings a careless or hostile client sends: empty, NUL, wildcards, odd Unicode, long. */
export const hostileString = (maxLength = 64): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 3, arbitrary: fc.string({ maxLength }) },
    { weight: 2, arbitrary: fc.string({ unit: "binary", maxLength }) },
    {
      weight: 3,
      arbitrary: fc.constantFrom(
        "",
        ".",
        "..",
        "../v1",
        "%2e%2e",
        "\u0000",
        "a\u0000b",
        "\ud800",
        "\udfff",
        "\ufeff",
        "\uffff",
        "t\ufffd",
        "+",
        "#",
        "/",
        "$sys",
        "__proto__",
        "constructor",
        "prototype",
        "a/b",
        "%00",
        "\r\n",
        " ",
        "😀",
      ),
    },
    { weight: 1, arbitrary: fc.integer({ min: 256, max: 9_000 }).map((n) => "k".repeat(n)) },
  );

/** PUBLISH topics: the device's own, another product's, another device's, malformed. */
export const publishTopic = (me: string): fc.Arbitrary<string> => {
  const own = `$sys/${ATTACKER}/${me}`;
  return fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(`${own}/image/update`, `${own}/image/get`) },
    {
      weight: 4,
      arbitrary: fc.constantFrom(
        `${own}/image/update/accepted`,
        `${own}/image/update/delta`,
        `${own}/thing/sub/property/get_reply`,
        `${own}/thing/sub/property/set_reply`,
        `${own}/thing/sub/service/invoke_reply`,
        `${own}/image/update/`,
        `${own}//image/update`,
        `${own}/image/update/+`,
        `${own}/image/#`,
        `$sys/${VICTIM}/v1/image/update`,
        `$sys/${VICTIM}/v1/image/get`,
        `$sys/${VICTIM}/v2/image/update`,
        `$sys/${VICTIM}/v1/thing/sub/property/get_reply`,
        `$sys/${ATTACKER}/a15/image/update`,
        `$sys/${ATTACKER}/gw/thing/sub/property/get_reply`,
        `$SYS/${ATTACKER}/${me}/image/update`,
        `$sys/${ATTACKER}/${me}\u0000/image/update`,
        `$sys/${ATTACKER}/${me}/image/update\u0000`,
        `$sys/${ATTACKER}/../${VICTIM}/v1/image/update`,
        `/$sys/${VICTIM}/v1/image/update`,
        "$sys",
        "a",
        "/",
      ),
    },
    { weight: 1, arbitrary: hostileString(200).filter((s) => s.length > 0) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(hostileString(16), hostileString(16))
        .map(([a, b]) => `$sys/${a}/${b}/image/update`),
    },
  );
};

/** SUBSCRIBE filters: own, wildcard reaches into other products, shared, malformed, long. */
export const filter = (me: string): fc.Arbitrary<string> => {
  const level = fc.oneof(
    fc.constantFrom("+", "#", "$sys", ATTACKER, VICTIM, me, "image", "update", "", "v1", "thing"),
    hostileString(12),
  );
  return fc.oneof(
    fc.constantFrom(
      `$sys/${ATTACKER}/${me}/image/#`,
      `$sys/${ATTACKER}/${me}/#`,
      "#",
      "+/#",
      "$sys/#",
      "$sys/+/+/image/#",
      `$sys/${VICTIM}/#`,
      `$sys/${VICTIM}/v1/image/#`,
      `$sys/${VICTIM}/v2/image/update/accepted`,
      `$sys/${ATTACKER}/+/image/#`,
      `$sys/${ATTACKER}/${me}/image/#/x`,
      `$sys/${ATTACKER}/${me}/ima+ge`,
      "$share/g/#",
      `$share/g/$sys/${VICTIM}/#`,
      "$queue/#",
      // Alibaba shadow forms: only the device's own /shadow/get/{pk}/{dn} may be granted.
      `/shadow/get/${VICTIM}/v1`,
      "/shadow/get/+/+",
      "/shadow/#",
      `/shadow/get/${ATTACKER}/+`,
      `/shadow/update/${ATTACKER}/${me}`,
      `/sys/${VICTIM}/v1/thing/service/property/set`,
      `/shadow/get/${ATTACKER}/${me}/#`,
      // AWS forms: only the session's own thing's shadow answers may be granted.
      "$aws/#",
      "$aws/things/#",
      "$aws/things/+/shadow/#",
      "$aws/things/a15/shadow/update/accepted",
      `$aws/things/${me}/shadow/#`,
      `$aws/things/${me}/shadow/name/+/update/delta`,
      `$aws/things/${me}/shadow/update`,
      `$aws/things/${me}/jobs/#`,
    ),
    fc.array(level, { minLength: 1, maxLength: 8 }).map((ls) => ls.join("/")),
    fc.integer({ min: 1_000, max: 8_000 }).map((n) => `$sys/${ATTACKER}/${me}/${"x".repeat(n)}`),
  );
};

/** The shapes of JSON bomb the suite sends. */
export const BOMB_SHAPES = [
  "deep-object",
  "deep-array",
  "wide-array",
  "long-key",
  "long-string",
  "many-keys",
  "huge-number",
  "duplicate-keys",
  "invalid-utf8",
  "lone-surrogate",
  "proto-keys",
  "nul-key",
  "truncated",
  "bom",
  "not-json",
  "function-call",
  "null-state",
  "whitespace",
] as const;
export type BombShape = (typeof BOMB_SHAPES)[number];

/** Where a bomb sits: in a device update, or in the body of one of the API's routes. */
export const WHERES = [
  "reported",
  "desired",
  "state",
  "top",
  "patch",
  "twin",
  "function",
  "params",
  "name",
] as const;
export type Where = (typeof WHERES)[number];

export interface Bomb {
  readonly shape: BombShape;
  /** How big: depth, length or count, by shape. */
  readonly size: number;
  /** Where in the update it sits. */
  readonly where: Where;
}

export const bomb = (
  maxSize: number,
  wheres: readonly Where[] = ["reported", "desired", "state", "top"],
): fc.Arbitrary<Bomb> =>
  fc.record({
    shape: fc.constantFrom(...BOMB_SHAPES),
    // Every order of magnitude alike: a depth that breaks a parser sits in a narrow band.
    size: fc.oneof(
      fc.integer({ min: 1, max: 20 }),
      fc.integer({ min: 20, max: Math.min(1_000, maxSize) }),
      fc.integer({ min: Math.min(1_000, maxSize), max: maxSize }),
      fc.integer({ min: Math.floor(maxSize / 4), max: maxSize }),
      fc.constant(maxSize),
    ),
    where: fc.constantFrom(...wheres),
  });

const wrap = (where: Bomb["where"], inner: string): string => {
  switch (where) {
    case "reported":
      return `{"state":{"reported":{"x":${inner}}}}`;
    case "desired":
      return `{"state":{"desired":{"x":${inner}}}}`;
    case "state":
      return `{"state":${inner}}`;
    // The bodies of the API's routes.
    case "patch":
      return `{"desired":{"x":${inner}}}`;
    case "twin":
      return `[{"op":"add","path":"/x","value":${inner}}]`;
    case "function":
      return `{"funcKey":"f","params":{"x":${inner}}}`;
    case "params":
      return `{"params":{"x":${inner}}}`;
    case "name":
      return `{"name":${inner}}`;
    case "top":
      return inner;
  }
};

/** The bytes of a bomb (the caller bounds `size` so they fit its packet or body limit). */
export const bombBytes = ({ shape, size, where }: Bomb): Buffer => {
  const n = Math.max(1, size);
  const text = (inner: string) => Buffer.from(wrap(where, inner), "utf8");
  switch (shape) {
    case "deep-object":
      return text(`${'{"a":'.repeat(n)}1${"}".repeat(n)}`);
    case "deep-array":
      return text(`${"[".repeat(n)}${"]".repeat(n)}`);
    case "wide-array":
      return text(`[${Array.from({ length: n }, () => "0").join(",")}]`);
    case "long-key":
      return text(`{"${"k".repeat(n)}":1}`);
    case "long-string":
      return text(`"${"s".repeat(n)}"`);
    case "many-keys":
      return text(
        `{${Array.from({ length: Math.ceil(n / 8) }, (_, i) => `"k${i}":${i}`).join(",")}}`,
      );
    case "huge-number":
      return text(
        ["1e400", "-1e400", "1e-400", "123456789012345678901234567890", "-0", "1E+999"][
          n % 6
        ] as string,
      );
    case "duplicate-keys":
      return Buffer.from(
        `{"state":{"reported":{"a":1,"a":{"b":2}},"reported":{"c":3}},"state":{"desired":{"d":${n}}}}`,
      );
    case "invalid-utf8": {
      // Overlong, truncated and surrogate-encoding sequences inside a string (or a key).
      const [pre, post] = wrap(where, n % 2 === 0 ? '"@@"' : '{"@@":1}').split("@@");
      return Buffer.concat([
        Buffer.from(pre as string),
        Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0xed, 0xa0, 0x80, 0xc0, 0xaf]),
        Buffer.from(post as string),
      ]);
    }
    case "lone-surrogate":
      return text(`{"\\ud800":"\\udfff","k":"\\ud83d"}`);
    case "proto-keys":
      return text(`{"__proto__":{"polluted":${n}},"constructor":{"prototype":{"p":1}}}`);
    case "nul-key":
      return text(`{"\\u0000":1,"a\\u0000b":2}`);
    case "truncated":
      return Buffer.from(wrap(where, `{"a":[1,2,{"b":"${"c".repeat(n % 100)}`).slice(0, -2));
    case "bom":
      return Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), text("1")]);
    case "not-json":
      return Buffer.from(
        ["", "null", "[]", "true", '"state"', "{", "}", "NaN", "{'a':1}"][n % 9] as string,
      );
    case "function-call":
      return Buffer.from(
        `{"state":{"desired":{"_function":{"funcKey":"${"f".repeat(n % 200)}","params":{"p":${n}}}},"reported":{"_function_result":{"requestId":"x","result":1}}}}`,
      );
    case "null-state":
      return Buffer.from(
        ['{"state":null}', '{"state":{"reported":null}}', '{"state":{"desired":{"x":null}}}'][
          n % 3
        ] as string,
      );
    case "whitespace":
      return text(`${" ".repeat(n)}1`);
  }
};

const messageId = fc.integer({ min: 1, max: 65_535 });
/** QoS 2 (which the edge does not grant) ends most sessions: rarer, so batches go further. */
const qos = fc.oneof(
  { weight: 4, arbitrary: fc.constant(0) },
  { weight: 4, arbitrary: fc.constant(1) },
  { weight: 1, arbitrary: fc.constant(2) },
) as fc.Arbitrary<0 | 1 | 2>;
const userProperties = fc.dictionary(hostileString(16), hostileString(32), { maxKeys: 4 });

const payload: fc.Arbitrary<Buffer> = fc.oneof(
  bomb(4_000).map(bombBytes),
  fc.uint8Array({ maxLength: 2_000 }).map((a) => Buffer.from(a)),
  fc.constant(Buffer.from('{"state":{"reported":{"t":21.5}}}')),
  fc.constant(Buffer.alloc(0)),
);

const publishProperties = fc.record(
  {
    topicAlias: fc.integer({ min: 0, max: 70_000 }),
    payloadFormatIndicator: fc.boolean(),
    messageExpiryInterval: fc.nat(),
    responseTopic: hostileString(32),
    correlationData: fc.uint8Array({ maxLength: 32 }).map((a) => Buffer.from(a)),
    contentType: hostileString(32),
    userProperties,
    subscriptionIdentifier: fc.integer({ min: 0, max: 268_435_455 }),
  },
  { requiredKeys: [] },
);

/**
 * A hostile-but-framed packet of any type a device could send (and some only a server
 * sends), with v5 properties when the session speaks MQTT 5.
 */
export const framedPacket = (me: string, version: 4 | 5): fc.Arbitrary<Packet> => {
  const v5 = <T>(a: fc.Arbitrary<T>) =>
    version === 5 ? fc.option(a, { nil: undefined }) : fc.constant(undefined);
  const publish = fc
    .record({
      topic: publishTopic(me),
      payload,
      qos,
      retain: fc.boolean(),
      dup: fc.boolean(),
      messageId,
      properties: v5(publishProperties),
    })
    .map((p) => ({ cmd: "publish", ...p }) as Packet);
  const subscribe = fc
    .record({
      messageId,
      subscriptions: fc.array(
        fc.record({
          topic: filter(me),
          qos,
          nl: fc.boolean(),
          rap: fc.boolean(),
          rh: fc.constantFrom(0, 1, 2),
        }),
        { minLength: 1, maxLength: 8 },
      ),
      properties: v5(
        fc.record(
          { subscriptionIdentifier: fc.integer({ min: 1, max: 268_435_455 }), userProperties },
          { requiredKeys: [] },
        ),
      ),
    })
    .map((p) => ({ cmd: "subscribe", ...p }) as Packet);
  const unsubscribe = fc
    .record({ messageId, unsubscriptions: fc.array(filter(me), { minLength: 1, maxLength: 6 }) })
    .map((p) => ({ cmd: "unsubscribe", ...p }) as Packet);
  const ack = fc
    .record({
      cmd: fc.constantFrom("puback", "puback", "puback", "pubrec", "pubrel", "pubcomp"),
      messageId,
      reasonCode: v5(fc.constantFrom(0, 0x10, 0x80, 0x87, 0x92)),
    })
    .map((p) => p as Packet);
  const other = fc.constantFrom<Packet>(
    { cmd: "pingreq" },
    { cmd: "pingresp" },
    { cmd: "connack", sessionPresent: false, returnCode: 0 },
    { cmd: "suback", messageId: 1, granted: [0] },
    { cmd: "unsuback", messageId: 1, granted: [] },
    { cmd: "connect", clientId: me, protocolVersion: version, protocolId: "MQTT", clean: true },
    ...(version === 5
      ? [
          {
            cmd: "auth",
            reasonCode: 0x18,
            properties: { authenticationMethod: "SCRAM-SHA-1" },
          } as Packet,
        ]
      : []),
  );
  const disconnect = fc.constant<Packet>({ cmd: "disconnect" });
  // Weighted towards packets a session survives, so that a batch is mostly read: the
  // ones that end it (DISCONNECT, a second CONNECT, server-only packets) come rarely.
  return fc.oneof(
    { weight: 20, arbitrary: publish },
    { weight: 10, arbitrary: subscribe },
    { weight: 3, arbitrary: unsubscribe },
    { weight: 4, arbitrary: ack },
    { weight: 2, arbitrary: other },
    { weight: 1, arbitrary: disconnect },
  );
};

/** Frames a packet, or undefined when mqtt-packet refuses the object (not a case then). */
export const frame = (packet: Packet, protocolVersion: number): Buffer | undefined => {
  try {
    return mqttPacket.generate(packet, { protocolVersion });
  } catch {
    return undefined;
  }
};

export interface DeviceLogin {
  readonly clientId: string;
  readonly username: string;
  readonly password: string;
}

/** The CONNECT of a device's own valid login. */
export const connectPacket = (login: DeviceLogin, version: 4 | 5, extra: object = {}): Buffer =>
  mqttPacket.generate(
    {
      cmd: "connect",
      protocolId: "MQTT",
      protocolVersion: version,
      clean: true,
      keepalive: 60,
      clientId: login.clientId,
      username: login.username,
      password: Buffer.from(login.password),
      ...extra,
    } as Packet,
    { protocolVersion: version },
  );

/** Valid CONNECT variations (will, v5 properties, odd keepalives) for truncation and mutation. */
export const validConnectExtra = (version: 4 | 5): fc.Arbitrary<object> =>
  fc.record(
    {
      keepalive: fc.integer({ min: 0, max: 65_535 }),
      will: fc.record({
        topic: fc.constant("will/t"),
        payload: fc.uint8Array({ maxLength: 32 }).map((a) => Buffer.from(a)),
        qos: fc.constantFrom(0, 1) as fc.Arbitrary<0 | 1>,
        retain: fc.boolean(),
      }),
      ...(version === 5
        ? {
            properties: fc.record(
              {
                sessionExpiryInterval: fc.nat(),
                receiveMaximum: fc.integer({ min: 1, max: 65_535 }),
                maximumPacketSize: fc.integer({ min: 1_024, max: 1_000_000 }),
                topicAliasMaximum: fc.integer({ min: 0, max: 100 }),
                // Short: truncation cuts every offset, and long strings only repeat cases.
                userProperties: fc.dictionary(
                  fc.string({ maxLength: 8 }),
                  fc.string({ maxLength: 16 }),
                  {
                    maxKeys: 3,
                  },
                ),
              },
              { requiredKeys: [] },
            ),
          }
        : {}),
    },
    { requiredKeys: [] },
  );

/** A valid packet a connected device sends: what truncation and mutation start from. */
export const validPacket = (me: string): fc.Arbitrary<Packet> =>
  fc.oneof(
    fc.record({ qos: fc.constantFrom(0, 1) as fc.Arbitrary<0 | 1>, messageId, t: fc.double() }).map(
      ({ qos: q, messageId: id, t }) =>
        ({
          cmd: "publish",
          topic: `$sys/${ATTACKER}/${me}/image/update`,
          payload: Buffer.from(JSON.stringify({ state: { reported: { t } } })),
          qos: q,
          retain: false,
          dup: false,
          messageId: id,
        }) as Packet,
    ),
    messageId.map(
      (id) =>
        ({
          cmd: "subscribe",
          messageId: id,
          subscriptions: [{ topic: `$sys/${ATTACKER}/${me}/image/#`, qos: 1 }],
        }) as Packet,
    ),
    messageId.map(
      (id) =>
        ({
          cmd: "unsubscribe",
          messageId: id,
          unsubscriptions: [`$sys/${ATTACKER}/${me}/image/#`],
        }) as Packet,
    ),
    fc.constant<Packet>({ cmd: "pingreq" }),
  );

/** Raw bytes: random, behind a CONNECT or PUBLISH fixed header, or a remaining length that never ends. */
export const garbage: fc.Arbitrary<Buffer> = fc.oneof(
  fc.uint8Array({ minLength: 1, maxLength: 2_000 }).map((a) => Buffer.from(a)),
  fc
    .tuple(fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 300 }))
    .map(([first, rest]) => Buffer.from([first, ...rest])),
  fc
    .tuple(
      fc.constantFrom(0x10, 0x30, 0x32, 0x82, 0xc0, 0xe0, 0xf0),
      fc.uint8Array({ maxLength: 300 }),
    )
    .map(([first, rest]) => Buffer.from([first, rest.length & 0x7f, ...rest])),
  fc.constantFrom(
    Buffer.from([0x10, 0xff, 0xff, 0xff, 0xff, 0x01]),
    Buffer.from([0x10, 0xff, 0xff, 0xff, 0x7f]),
    Buffer.from([0x30, 0xff, 0xff, 0x03]),
    Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
    Buffer.from("\u0016\u0003\u0001\u0002\u0000\u0001\u0000\u0001\u00fc\u0003\u0003", "latin1"),
    Buffer.alloc(1_000, 0),
  ),
);

export type Mutation =
  | { readonly kind: "flip"; readonly at: number; readonly bit: number }
  | { readonly kind: "length"; readonly to: number }
  | { readonly kind: "insert"; readonly at: number; readonly bytes: readonly number[] }
  | { readonly kind: "delete"; readonly at: number; readonly count: number };

export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant("flip" as const),
      at: fc.nat(),
      bit: fc.integer({ min: 0, max: 7 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("length" as const),
      to: fc.oneof(
        fc.integer({ min: 0, max: 300 }),
        fc.constantFrom(127, 128, 16_383, 16_384, 65_536, 268_435_455),
      ),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("insert" as const),
      at: fc.nat(),
      bytes: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 8 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("delete" as const),
      at: fc.nat(),
      count: fc.integer({ min: 1, max: 8 }),
    }),
  },
);

/** Encodes an MQTT variable byte integer (1–4 bytes). */
const varint = (n: number): number[] => {
  const out: number[] = [];
  let v = n;
  do {
    let byte = v % 128;
    v = Math.floor(v / 128);
    if (v > 0) byte |= 0x80;
    out.push(byte);
  } while (v > 0 && out.length < 4);
  return out;
};

/** Applies one mutation to a framed packet (positions wrap around its length). */
export const mutate = (packet: Buffer, m: Mutation): Buffer => {
  if (packet.length === 0) return packet;
  const at = (n: number) => n % packet.length;
  switch (m.kind) {
    case "flip": {
      const copy = Buffer.from(packet);
      const i = at(m.at);
      copy[i] = (copy[i] as number) ^ (1 << m.bit);
      return copy;
    }
    case "length": {
      // The fixed header's remaining length says `to`, whatever follows.
      let end = 1;
      while (end < packet.length && end < 5 && ((packet[end] as number) & 0x80) !== 0) end++;
      return Buffer.concat([
        packet.subarray(0, 1),
        Buffer.from(varint(m.to)),
        packet.subarray(Math.min(end + 1, packet.length)),
      ]);
    }
    case "insert":
      return Buffer.concat([
        packet.subarray(0, at(m.at)),
        Buffer.from(m.bytes),
        packet.subarray(at(m.at)),
      ]);
    case "delete":
      return Buffer.concat([packet.subarray(0, at(m.at)), packet.subarray(at(m.at) + m.count)]);
  }
};

/** A JSON value an Alibaba request might hold in a field: the forms it means and some it does not. */
const aliyunValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(
    "null",
    null,
    "",
    0,
    -1,
    -2,
    1.5,
    2 ** 53,
    Number.MAX_SAFE_INTEGER,
    "7",
    true,
    [],
    {},
  ),
  fc.integer(),
  fc.string({ maxLength: 8 }),
  fc.jsonValue({ maxDepth: 3 }),
);

const aliyunSection: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant("null"),
  fc.dictionary(fc.constantFrom("a", "b", "c", "null", ""), aliyunValue, { maxKeys: 4 }),
  aliyunValue,
);

const garbageText: fc.Arbitrary<Buffer> = fc.oneof(
  fc.constant(Buffer.alloc(0)),
  fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
  fc.string({ maxLength: 64 }).map((t) => Buffer.from(t)),
);

/** An AWS request body and the clientToken every answer to it must echo, if it has one. */
export interface AwsRequestBody {
  readonly body: Buffer;
  readonly token: string | undefined;
}

const awsToken: fc.Arbitrary<unknown> = fc.oneof(
  fc.string({ maxLength: 64 }),
  fc.string({ minLength: 1, maxLength: 40 }).map((t) => "é".repeat(33) + t),
  aliyunValue,
);

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * The token a reader can echo: the body is UTF-8 JSON (whatever else is wrong with it)
 * and its `clientToken` a string of at most 64 bytes. Not JSON, no token, for AWS too.
 */
const readableToken = (body: Buffer): string | undefined => {
  try {
    const parsed = JSON.parse(strictUtf8.decode(body)) as { clientToken?: unknown } | null;
    const token = typeof parsed === "object" && parsed !== null ? parsed.clientToken : undefined;
    return typeof token === "string" && Buffer.byteLength(token) <= 64 ? token : undefined;
  } catch {
    return undefined;
  }
};

/**
 * Bodies for `$aws/things/{thing}/shadow/[name/{n}/]update|get|delete`: AWS's request with
 * `state`, its sections, `version`, `clientToken` and stray members (`thingName`) missing
 * or of every wrong type, tokens up to and past 64 bytes, JSON bombs in `state` (past the
 * engine's size and depth too), and bytes that are not JSON.
 */
export const awsRequest = (maxBomb: number): fc.Arbitrary<AwsRequestBody> =>
  fc
    .oneof(
      fc
        .record(
          {
            state: fc.oneof(
              fc.record(
                { reported: aliyunSection, desired: aliyunSection, delta: aliyunValue },
                { requiredKeys: [] },
              ),
              aliyunValue,
            ),
            version: aliyunValue,
            clientToken: awsToken,
            thingName: aliyunValue,
          },
          { requiredKeys: [] },
        )
        .map((request) => Buffer.from(JSON.stringify(request))),
      bomb(maxBomb).map((b) =>
        Buffer.from(`{"clientToken":"bomb","state":{"reported":${bombBytes(b)}}}`),
      ),
      garbageText,
    )
    .map((body) => ({ body, token: readableToken(body) }));

/**
 * Bodies for `/shadow/update/{pk}/{dn}`: Alibaba's request envelope with every field
 * optional and often wrong (method, state, sections, version), plus bytes that are not
 * JSON at all and JSON bombs in the envelope.
 */
export const aliyunRequest = (maxBomb: number): fc.Arbitrary<Buffer> =>
  fc.oneof(
    fc
      .record(
        {
          method: fc.oneof(
            fc.constantFrom("update", "get", "delete", "reply", "control", ""),
            aliyunValue,
          ),
          state: fc.oneof(
            fc.record(
              { reported: aliyunSection, desired: aliyunSection, extra: aliyunValue },
              { requiredKeys: [] },
            ),
            aliyunValue,
          ),
          version: aliyunValue,
        },
        { requiredKeys: [] },
      )
      .map((body) => Buffer.from(JSON.stringify(body))),
    bomb(maxBomb).map((b) =>
      Buffer.from(`{"method":"update","version":-1,"state":${bombBytes(b)}}`),
    ),
    garbageText,
  );

/** A value an Azure reported patch might hold: plain values, acks right and wrong, components. */
const azureValue: fc.Arbitrary<unknown> = fc.oneof(
  aliyunValue,
  fc.record(
    { value: aliyunValue, ac: aliyunValue, av: aliyunValue, ad: aliyunValue, extra: aliyunValue },
    { requiredKeys: [] },
  ),
  fc.record({ value: aliyunValue, ac: fc.integer(), av: fc.integer(), ad: fc.string() }),
);

/** Member names IoT Hub refuses (§2.4) beside ordinary ones. */
const azureKey: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom("a", "b", "t", "__t", "$version", "$metadata", "a.b", "a b", "\u0001", ""),
  fc.constant("k".repeat(1025)),
  fc.string({ maxLength: 12 }),
);

/**
 * Bodies for `$iothub/twin/PATCH/properties/reported/?$rid=…`: objects with refused names,
 * acks `{"value","ac","av","ad"}` right and wrong, components (`"__t":"c"`), nesting past
 * IoT Hub's 10 levels, JSON bombs, arrays and scalars, and bytes that are not JSON.
 */
export const azureReportedPatch = (maxBomb: number): fc.Arbitrary<Buffer> =>
  fc.oneof(
    fc
      .dictionary(
        azureKey,
        fc.oneof(
          azureValue,
          fc.dictionary(azureKey, azureValue, { maxKeys: 3 }).map((c) => ({ __t: "c", ...c })),
        ),
        { maxKeys: 5 },
      )
      .map((patch) => Buffer.from(JSON.stringify(patch))),
    fc
      .integer({ min: 9, max: 12 })
      .map((depth) => Buffer.from(`${'{"d":'.repeat(depth)}1${"}".repeat(depth)}`)),
    bomb(maxBomb).map((b) => Buffer.from(`{"a":${bombBytes(b)}}`)),
    aliyunValue.map((v) => Buffer.from(JSON.stringify(v) ?? "")),
    garbageText,
  );

/** `$rid`s as SDKs send them (UUIDs, counters) and as they are not (escapes, odd bytes). */
export const azureRid: fc.Arbitrary<string> = fc.oneof(
  fc.uuid(),
  fc.nat().map(String),
  fc.stringMatching(/^[A-Za-z0-9%._~*'()!:;=@,-]{1,40}$/),
);

/** A thing-model `{"value","time"}` wrapper, right and wrong. */
const thingValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.record({ value: aliyunValue, time: aliyunValue }, { requiredKeys: ["value"] }),
  fc.record({ value: aliyunValue, time: fc.integer({ min: 0, max: 2 ** 45 }) }),
  aliyunValue,
);

const thingParams: fc.Arbitrary<unknown> = fc.oneof(
  fc.dictionary(fc.constantFrom("temp", "on", "$x", "", "a b", "__proto__"), thingValue, {
    maxKeys: 4,
  }),
  fc.array(fc.oneof(fc.constantFrom("temp", "on", ""), aliyunValue), { maxLength: 4 }),
  aliyunValue,
);

/**
 * Bodies for the OneNET thing uploads (`$sys/{pid}/{dn}/thing/…`): the `{"id","version",
 * "params"}` envelope with every field missing or of a wrong type, values with and without
 * `time`, batch and history entries naming the device itself, a stranger or nothing, past
 * the bounds (10 devices, 100 points, 100 values), JSON bombs and bytes that are not JSON.
 * `id` is what a reply must echo when the body is JSON with a readable one.
 */
export const thingUpload = (
  maxBomb: number,
  stranger: { readonly productID: string; readonly deviceName: string },
): fc.Arbitrary<Buffer> =>
  fc.oneof(
    fc
      .record(
        {
          id: fc.oneof(fc.nat({ max: 9_999_999 }).map(String), aliyunValue),
          version: fc.oneof(fc.constant("1.0"), aliyunValue),
          params: fc.oneof(
            thingParams,
            fc.array(
              fc.record(
                {
                  identity: fc.oneof(fc.constant(stranger), aliyunValue),
                  properties: thingParams,
                  events: thingParams,
                },
                { requiredKeys: [] },
              ),
              { maxLength: 12 },
            ),
          ),
        },
        { requiredKeys: [] },
      )
      .map((body) => Buffer.from(JSON.stringify(body))),
    fc.integer({ min: 99, max: 102 }).map((n) =>
      Buffer.from(
        JSON.stringify({
          id: "1",
          params: Object.fromEntries(
            Array.from({ length: n }, (_, i) => [
              `p${i}`,
              { value: i, time: 1_700_000_000_000 + i },
            ]),
          ),
        }),
      ),
    ),
    bomb(maxBomb).map((b) => Buffer.from(`{"id":"2","params":{"t":{"value":${bombBytes(b)}}}}`)),
    garbageText,
  );
