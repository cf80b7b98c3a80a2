import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { applyUpdate, createShadow, defaultLimits, type Result } from "@umbra/core";
import fc from "fast-check";
import {
  type DeviceId,
  defaultThingLimits,
  deviceKey,
  readThingCallReply,
  readThingDesiredDelete,
  readThingDesiredGet,
  readThingEventPost,
  readThingHistory,
  readThingPack,
  readThingPropertyPost,
  type ThingRefusal,
  thingReportedUpdate,
} from "../src/index.js";

const gw: DeviceId = { productId: "k5NIV817Ww", deviceName: "gw1" };
const subs = new Set(["k5NIV817Ww/sub1", "k5NIV817Ww/sub2", "p9/other"]);
for (let i = 0; i < 12; i++) subs.add(`k5NIV817Ww/s${i}`);
const isSub = (d: DeviceId) => subs.has(deviceKey(d));
const text = (body: unknown) => JSON.stringify(body);
/** The gateway's first sub-device, as the documented examples name it and as read. */
const sub1Identity = { productID: "k5NIV817Ww", deviceName: "sub1" };
const sub1: DeviceId = { productId: "k5NIV817Ww", deviceName: "sub1" };
/** A batch or history upload as the documented examples frame it: id "123", version "1.0". */
const documented = (params: unknown[]) => text({ id: "123", version: "1.0", params });

const value = <T>(result: Result<T, ThingRefusal>): T => {
  if (!result.ok) assert.fail(`refused: ${JSON.stringify(result.error)}`);
  return result.value;
};
/** The refusal's id and code (what the reply shows). */
const refusal = <T>(result: Result<T, ThingRefusal>): { id: string | null; code: number } => {
  if (result.ok) assert.fail("accepted");
  return { id: result.error.id, code: result.error.code };
};

describe("thing property post", () => {
  it("reads the documented example into values and times (ms)", () => {
    const post = value(
      readThingPropertyPost(
        '{"id":"123","version":"1.0","params":{"Power":{"value":"on","time":1524448722123},"WF":{"value":23.6,"time":1524448722123}}}',
      ),
    );
    assert.deepEqual(post, {
      id: "123",
      version: "1.0",
      reported: { Power: "on", WF: 23.6 },
      times: { Power: 1524448722123, WF: 1524448722123 },
    });
  });

  it("defaults the version, leaves times out when none is given, keeps struct values", () => {
    const post = value(
      readThingPropertyPost(
        text({ id: "1", params: { a: { value: { x: 1, y: [1, 2] } }, b: { value: false, t: 9 } } }),
      ),
    );
    assert.deepEqual(post, {
      id: "1",
      version: "1.0",
      reported: { a: { x: 1, y: [1, 2] }, b: false },
      times: undefined,
    });
    // Only those with a time have one.
    const mixed = value(
      readThingPropertyPost(
        text({ id: "1", params: { a: { value: 1, time: 0 }, b: { value: 2 } } }),
      ),
    );
    assert.deepEqual(mixed.times, { a: 0 });
  });

  it("refuses what is not JSON, or too big, with the image's codes; the id when it can be read", () => {
    const cases: [string | Uint8Array, number, string | null][] = [
      ["", 160, null],
      ["{", 160, null],
      ["[1]", 160, null],
      ['"x"', 160, null],
      [new Uint8Array([0x7b, 0xff, 0x7d]), 160, null],
      // Too big, but JSON: its id is echoed, so the device matches the refusal.
      [
        text({ id: "1", params: { a: { value: "x".repeat(defaultLimits.maxPayloadBytes) } } }),
        161,
        "1",
      ],
      [
        text({ id: 1, params: { a: { value: "x".repeat(defaultLimits.maxPayloadBytes) } } }),
        161,
        null,
      ],
    ];
    for (const [payload, code, id] of cases)
      assert.deepEqual(
        refusal(readThingPropertyPost(payload)),
        { id, code },
        String(payload).slice(0, 30),
      );
  });

  it("refuses an id that is not 1–13 digits with 165 and id null; 13 digits are fine", () => {
    for (const id of [undefined, 123, "", "12a", "12345678901234", " 1"])
      assert.deepEqual(refusal(readThingPropertyPost(text({ id, params: { a: { value: 1 } } }))), {
        id: null,
        code: 165,
      });
    assert.equal(
      value(readThingPropertyPost(text({ id: "1234567890123", params: { a: { value: 1 } } }))).id,
      "1234567890123",
    );
  });

  it("refuses a bad envelope or property with 165, echoing the id", () => {
    const bad: unknown[] = [
      { version: 1, params: { a: { value: 1 } } },
      {},
      { params: [] },
      { params: {} },
      { params: null },
      { params: { Power: "on" } }, // not wrapped in {"value"}
      { params: { Power: { time: 1 } } },
      { params: { Power: { value: "on", time: -1 } } },
      { params: { Power: { value: "on", time: 1.5 } } },
      { params: { Power: { value: "on", time: "1524448722123" } } },
      { params: { Power: { value: "on", time: Number.MAX_SAFE_INTEGER + 1 } } },
      { params: { Power: { value: null } } },
      { params: { Power: { value: { a: [1, null] } } } },
      { params: { $Power: { value: 1 } } },
      { params: { "": { value: 1 } } },
      { params: { _function: { value: 1 } } },
      { params: { _function_result: { value: { requestId: "r", status: "completed" } } } },
      { params: { ["x".repeat(defaultLimits.maxKeyLength + 1)]: { value: 1 } } },
      { params: { a: { value: { "b\u0001": 1 } } } },
    ];
    for (const body of bad)
      assert.deepEqual(
        refusal(readThingPropertyPost(text({ id: "77", ...(body as object) }))),
        { id: "77", code: 165 },
        text(body),
      );
    // `__proto__` as sent (JSON.parse makes it an own key): refused as a name, not a prototype.
    assert.deepEqual(
      refusal(readThingPropertyPost('{"id":"7","params":{"__proto__":{"value":1}}}')),
      { id: "7", code: 165 },
    );
  });

  it("takes nesting up to the engine's depth, counted from the identifier, and refuses past it with 162", () => {
    const nest = (levels: number): unknown => {
      let v: unknown = 1;
      for (let i = 0; i < levels; i++) v = { n: v };
      return v;
    };
    // The identifier is level 1: its value may nest maxDepth - 1 more.
    value(
      readThingPropertyPost(
        text({ id: "1", params: { a: { value: nest(defaultLimits.maxDepth - 1) } } }),
      ),
    );
    assert.deepEqual(
      refusal(
        readThingPropertyPost(
          text({ id: "1", params: { a: { value: nest(defaultLimits.maxDepth) } } }),
        ),
      ),
      { id: "1", code: 162 },
    );
    const error = readThingPropertyPost(
      text({ id: "1", params: { a: { value: nest(defaultLimits.maxDepth) } } }),
    );
    assert.ok(!error.ok && error.error.error._tag === "DepthExceeded");
    assert.match((error.error.error as { path: string }).path, /^\/params\/a\/value\/n/);
  });

  it("accepts only what the engine then accepts as a report (property)", () => {
    const name = fc.oneof(
      fc.constantFrom("a", "b", "$x", "", "_function", "__proto__"),
      fc.string({ maxLength: 4 }),
    );
    const wrapper = fc.oneof(
      fc.record({ value: fc.jsonValue({ maxDepth: 9 }) }),
      fc.record({
        value: fc.jsonValue({ maxDepth: 3 }),
        time: fc.oneof(fc.nat(), fc.integer(), fc.double()),
      }),
      fc.jsonValue({ maxDepth: 2 }),
    );
    fc.assert(
      fc.property(fc.dictionary(name, wrapper, { maxKeys: 5 }), (params) => {
        const read = readThingPropertyPost(text({ id: "5", params }));
        if (!read.ok) {
          assert.ok([160, 161, 162, 165].includes(read.error.code), String(read.error.code));
          return;
        }
        const write = applyUpdate(createShadow("p", "d", 0), thingReportedUpdate(read.value), {
          now: 1,
        });
        assert.ok(write.ok || write.error._tag === "DocumentTooLarge", JSON.stringify(write));
      }),
      { numRuns: 500 },
    );
  });
});

describe("thing event post", () => {
  it("reads the documented example into events, in order, time when given", () => {
    const post = value(
      readThingEventPost(
        '{"id":"123","version":"1.0","params":{"alarm":{"value":{"Power":"on","WF":"2"},"time":1524448722123},"beep":{"value":null}}}',
      ),
    );
    assert.deepEqual(post, {
      id: "123",
      version: "1.0",
      events: [
        { identifier: "alarm", value: { Power: "on", WF: "2" }, time: 1524448722123 },
        // An event's value may be null: it is data for the stream, not a write.
        { identifier: "beep", value: null, time: undefined },
      ],
    });
  });

  it("refuses no event, a bare value, a bad time or name with 165", () => {
    for (const params of [
      {},
      [],
      { alarm: 1 },
      { alarm: { value: 1, time: -5 } },
      { $a: { value: 1 } },
    ])
      assert.deepEqual(refusal(readThingEventPost(text({ id: "9", params }))), {
        id: "9",
        code: 165,
      });
  });
});

describe("thing desired get and delete", () => {
  it("reads the identifiers asked for, each once", () => {
    assert.deepEqual(
      value(readThingDesiredGet(text({ id: "3", params: ["power", "temp", "power"] }))),
      {
        id: "3",
        version: "1.0",
        identifiers: ["power", "temp"],
      },
    );
    for (const params of [[], {}, "power", [1], ["$x"], [""]])
      assert.deepEqual(refusal(readThingDesiredGet(text({ id: "3", params }))), {
        id: "3",
        code: 165,
      });
  });

  it("reads each property to clear, with the version it must be at or none", () => {
    assert.deepEqual(
      value(readThingDesiredDelete('{"id":"4","params":{"power":{"version":1},"temperature":{}}}')),
      {
        id: "4",
        version: "1.0",
        entries: [
          { identifier: "power", version: 1 },
          { identifier: "temperature", version: undefined },
        ],
      },
    );
    for (const params of [
      {},
      [],
      { power: 1 },
      { power: null },
      { power: { version: "1" } },
      { power: { version: -1 } },
      { power: { version: 1.5 } },
      { _function: {} },
    ])
      assert.deepEqual(
        refusal(readThingDesiredDelete(text({ id: "4", params }))),
        {
          id: "4",
          code: 165,
        },
        text(params),
      );
  });
});

/** `n` sub-devices' entries with one property each. */
const subEntries = (n: number) =>
  Array.from({ length: n }, (_, i) => ({
    identity: { productID: "k5NIV817Ww", deviceName: `s${i}` },
    properties: { t: { value: i } },
  }));
/** One entry with `properties` + `events` points. */
const pointsEntry = (properties: number, events: number) => ({
  properties: Object.fromEntries(
    Array.from({ length: properties }, (_, i) => [`p${i}`, { value: i }]),
  ),
  events: Object.fromEntries(Array.from({ length: events }, (_, i) => [`e${i}`, { value: i }])),
});

describe("thing pack post (batch)", () => {
  it("reads the documented example: a sub-device's properties with times, and its events", () => {
    const pack = value(
      readThingPack(
        documented([
          {
            identity: sub1Identity,
            properties: {
              Power: { value: "on", time: 1524448722000 },
              WF: { value: "3", time: 1524448723000 },
            },
            events: { alarmEvent1: { value: { Power: "on", WF: "2" }, time: 1524448722000 } },
          },
          { properties: { own: { value: 1 } } },
        ]),
        gw,
        isSub,
      ),
    );
    assert.deepEqual(pack, {
      id: "123",
      version: "1.0",
      entries: [
        {
          device: sub1,
          sub: true,
          properties: {
            reported: { Power: "on", WF: "3" },
            times: { Power: 1524448722000, WF: 1524448723000 },
          },
          events: [
            { identifier: "alarmEvent1", value: { Power: "on", WF: "2" }, time: 1524448722000 },
          ],
        },
        {
          device: gw,
          sub: false,
          properties: { reported: { own: 1 }, times: undefined },
          events: [],
        },
      ],
    });
  });

  it("reads an identity naming the publisher as the publisher's own entry", () => {
    const pack = value(
      readThingPack(
        text({
          id: "1",
          params: [
            {
              identity: { productID: gw.productId, deviceName: gw.deviceName },
              events: { e: { value: 1 } },
            },
          ],
        }),
        gw,
        () => false,
      ),
    );
    assert.deepEqual(pack.entries[0]?.device, gw);
    assert.equal(pack.entries[0]?.sub, false);
  });

  it("refuses a device that is no sub-device of the publisher with 171", () => {
    const stranger = {
      identity: { productID: "k5NIV817Ww", deviceName: "stranger" },
      properties: { t: { value: 1 } },
    };
    assert.deepEqual(
      refusal(readThingPack(text({ id: "8", params: [...subEntries(2), stranger] }), gw, isSub)),
      {
        id: "8",
        code: 171,
      },
    );
    // A direct device has no sub-devices at all.
    assert.deepEqual(
      refusal(readThingPack(text({ id: "8", params: subEntries(1) }), gw, () => false)),
      {
        id: "8",
        code: 171,
      },
    );
  });

  it(`takes ${defaultThingLimits.maxSubDevices} sub-devices (and the publisher) per message; refuses more with 168`, () => {
    const at = subEntries(defaultThingLimits.maxSubDevices);
    assert.equal(
      value(
        readThingPack(
          text({ id: "1", params: [...at, { properties: { a: { value: 1 } } }] }),
          gw,
          isSub,
        ),
      ).entries.length,
      11,
    );
    const past = subEntries(defaultThingLimits.maxSubDevices + 1);
    assert.deepEqual(refusal(readThingPack(text({ id: "1", params: past }), gw, isSub)), {
      id: "1",
      code: 168,
    });
    // The count is judged before who they are: a stranger among too many is still 168.
    const withStranger = [
      ...past.slice(1),
      { identity: { productID: "x", deviceName: "y" }, events: { e: { value: 1 } } },
    ];
    assert.deepEqual(refusal(readThingPack(text({ id: "1", params: withStranger }), gw, isSub)), {
      id: "1",
      code: 168,
    });
  });

  it(`takes ${defaultThingLimits.maxPointsPerDevice} properties and events per device; refuses more with 169`, () => {
    for (const [p, e] of [
      [100, 0],
      [0, 100],
      [60, 40],
    ] as const)
      value(readThingPack(text({ id: "2", params: [pointsEntry(p, e)] }), gw, isSub));
    for (const [p, e] of [
      [101, 0],
      [0, 101],
      [60, 41],
    ] as const)
      assert.deepEqual(
        refusal(readThingPack(text({ id: "2", params: [pointsEntry(p, e)] }), gw, isSub)),
        {
          id: "2",
          code: 169,
        },
      );
  });

  it("honours limits given instead of OneNET's", () => {
    const limits = { maxSubDevices: 1, maxPointsPerDevice: 2, maxHistoryValues: 1 };
    assert.equal(
      refusal(
        readThingPack(text({ id: "1", params: subEntries(2) }), gw, isSub, defaultLimits, limits),
      ).code,
      168,
    );
    assert.equal(
      refusal(
        readThingPack(
          text({ id: "1", params: [pointsEntry(2, 1)] }),
          gw,
          isSub,
          defaultLimits,
          limits,
        ),
      ).code,
      169,
    );
    value(
      readThingPack(
        text({ id: "1", params: [pointsEntry(1, 1)] }),
        gw,
        isSub,
        defaultLimits,
        limits,
      ),
    );
  });

  it("refuses a malformed entry with 165, whichever entry it is", () => {
    const good = subEntries(2);
    for (const bad of [
      1,
      {},
      { properties: {} },
      { properties: [] },
      { events: 5 },
      { identity: "sub1", properties: { a: { value: 1 } } },
      { identity: { productID: "k5NIV817Ww" }, properties: { a: { value: 1 } } },
      { identity: { productID: "k5NIV817Ww", deviceName: "a/b" }, properties: { a: { value: 1 } } },
      { identity: { productID: 5, deviceName: "sub1" }, properties: { a: { value: 1 } } },
      { properties: { a: 1 } },
      { properties: { a: { value: null } } },
      { events: { e: { value: 1, time: "now" } } },
      good[0], // the same device twice
    ])
      assert.deepEqual(
        refusal(readThingPack(text({ id: "6", params: [...good, bad] }), gw, isSub)),
        {
          id: "6",
          code: 165,
        },
        text(bad),
      );
    for (const params of [[], {}, null])
      assert.deepEqual(refusal(readThingPack(text({ id: "6", params }), gw, isSub)), {
        id: "6",
        code: 165,
      });
  });
});

/** `n` timed values. */
const series = (n: number, start = 1000) =>
  Array.from({ length: n }, (_, i) => ({ value: i, time: start + i }));

describe("thing history post", () => {
  it("reads the documented example: values oldest first", () => {
    const history = value(
      readThingHistory(
        documented([
          {
            identity: sub1Identity,
            properties: {
              status: [
                { value: 0, time: 1619142953931 },
                { value: 1, time: 1619142952931 },
              ],
            },
            events: { RolloverEvent: [{ value: { RolloverAccP: 3 }, time: 1619142952931 }] },
          },
        ]),
        gw,
        isSub,
      ),
    );
    assert.deepEqual(history.entries, [
      {
        device: sub1,
        sub: true,
        points: [
          { kind: "property", identifier: "status", value: 1, time: 1619142952931 },
          // Equal times keep the upload's order: properties before events here.
          {
            kind: "event",
            identifier: "RolloverEvent",
            value: { RolloverAccP: 3 },
            time: 1619142952931,
          },
          { kind: "property", identifier: "status", value: 0, time: 1619142953931 },
        ],
      },
    ]);
  });

  it(`takes ${defaultThingLimits.maxHistoryValues} values per property or event; refuses more with 170`, () => {
    for (const group of ["properties", "events"]) {
      value(
        readThingHistory(text({ id: "1", params: [{ [group]: { x: series(100) } }] }), gw, isSub),
      );
      assert.deepEqual(
        refusal(
          readThingHistory(text({ id: "1", params: [{ [group]: { x: series(101) } }] }), gw, isSub),
        ),
        { id: "1", code: 170 },
      );
    }
  });

  it("shares the batch's bounds and identity rules", () => {
    const withSeries = (n: number) =>
      subEntries(n).map((e) => ({ identity: e.identity, properties: { t: series(1) } }));
    value(readThingHistory(text({ id: "1", params: withSeries(10) }), gw, isSub));
    assert.equal(
      refusal(readThingHistory(text({ id: "1", params: withSeries(11) }), gw, isSub)).code,
      168,
    );
    const many = Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`p${i}`, series(1)]));
    assert.equal(
      refusal(readThingHistory(text({ id: "1", params: [{ properties: many }] }), gw, isSub)).code,
      169,
    );
    const stranger = [
      { identity: { productID: "q", deviceName: "r" }, properties: { t: series(1) } },
    ];
    assert.equal(
      refusal(readThingHistory(text({ id: "1", params: stranger }), gw, isSub)).code,
      171,
    );
  });

  it("refuses a value without its time, a single value, an empty series with 165", () => {
    for (const properties of [
      { a: [{ value: 1 }] },
      { a: { value: 1, time: 1 } },
      { a: [] },
      { a: [{ value: null, time: 1 }] },
      { a: [{ value: 1, time: -1 }] },
      { $a: series(1) },
    ])
      assert.deepEqual(
        refusal(readThingHistory(text({ id: "2", params: [{ properties }] }), gw, isSub)),
        {
          id: "2",
          code: 165,
        },
        text(properties),
      );
  });

  it("orders any upload's points by time, stably (property)", () => {
    const point = fc.record({ value: fc.integer(), time: fc.nat(20) });
    fc.assert(
      fc.property(
        fc.dictionary(
          fc.constantFrom("a", "b", "c"),
          fc.array(point, { minLength: 1, maxLength: 6 }),
          { minKeys: 1 },
        ),
        (properties) => {
          const entry = value(
            readThingHistory(text({ id: "1", params: [{ properties }] }), gw, isSub),
          ).entries[0];
          assert.ok(entry !== undefined);
          const expected = Object.entries(properties)
            .flatMap(([identifier, values]) =>
              values.map((v) => ({ kind: "property", identifier, ...v })),
            )
            .sort((x, y) => x.time - y.time);
          assert.deepEqual(entry.points, expected);
        },
      ),
    );
  });
});

describe("thing call replies (…_reply from the device)", () => {
  it("reads id, code, msg and data, the device's own", () => {
    assert.deepEqual(value2(readThingCallReply('{"id":"123","code":200,"msg":"xxxx"}')), {
      id: "123",
      code: 200,
      msg: "xxxx",
    });
    assert.deepEqual(
      value2(
        readThingCallReply(
          '{"id":"9","code":200,"msg":"ok","data":{"temperature":39.5,"humidity":20}}',
        ),
      ),
      { id: "9", code: 200, msg: "ok", data: { temperature: 39.5, humidity: 20 } },
    );
    assert.equal(value2(readThingCallReply('{"id":"9","code":500}')).code, 500);
  });

  it("refuses a reply that is no JSON, has no id, or no integer code", () => {
    for (const payload of [
      "",
      "{",
      '{"code":200}',
      '{"id":"1","code":"200"}',
      '{"id":"1","code":200,"data":[]}',
    ])
      assert.equal(readThingCallReply(payload).ok, false, payload);
  });
});

const value2 = <T>(result: Result<T, unknown>): T => {
  if (!result.ok) assert.fail(`refused: ${JSON.stringify(result.error)}`);
  return result.value;
};
