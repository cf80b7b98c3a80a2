/**
 * Every request and response body of the API, defined once with Effect Schema: request
 * bodies are decoded with them at the edge of the service, and the OpenAPI document is
 * generated from them.
 */
import { Schema } from "effect";

const Name = (what: string) =>
  Schema.String.check(
    Schema.isBetweenLength(1, 64),
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
    Schema.isPattern(/^[^/+#\s{}|\u0000-\u001f\u007f]+$/),
  ).annotate({
    description: `${what}: 1–64 characters, no '/', '+', '#', '{', '}', '|', whitespace or control characters, not '.' or '..'`,
  });

export const ProductId = Name("product id");
export const DeviceName = Name("device name");

const JsonObject = Schema.Record(Schema.String, Schema.Json);
/** ms since the epoch */
const Millis = Schema.Int.annotate({ description: "milliseconds since the epoch" });

export const Problem = Schema.Struct({
  type: Schema.String.annotate({ description: "urn:umbra:problem:<kind>" }),
  title: Schema.String,
  status: Schema.Int,
  detail: Schema.String,
}).annotate({
  identifier: "Problem",
  description: "An RFC 9457 problem document; some carry extra members (currentVersion).",
});

export const ProductCreate = Schema.Struct({ id: ProductId }).annotate({
  identifier: "ProductCreate",
});

export const Product = Schema.Struct({ productId: Schema.String, createdAt: Millis }).annotate({
  identifier: "Product",
});

export const ProductList = Schema.Struct({ products: Schema.Array(Schema.String) }).annotate({
  identifier: "ProductList",
});

export const DeviceCreate = Schema.Struct({ name: DeviceName }).annotate({
  identifier: "DeviceCreate",
});

export const Device = Schema.Struct({
  productId: Schema.String,
  deviceName: Schema.String,
  createdAt: Millis,
}).annotate({ identifier: "Device" });

export const DeviceKey = Schema.Struct({
  productId: Schema.String,
  deviceName: Schema.String,
  createdAt: Millis,
  key: Schema.String.annotate({
    description: "base64 device key: the secret device tokens are signed with; shown only here",
  }),
}).annotate({ identifier: "DeviceKey" });

export const DevicePage = Schema.Struct({
  devices: Schema.Array(Schema.String),
  next: Schema.NullOr(Schema.String).annotate({
    description: "pass as `after` for the next page; null on the last page",
  }),
}).annotate({ identifier: "DevicePage" });

export const TokenRequest = Schema.Struct({
  expiresIn: Schema.optionalKey(
    Schema.Int.check(Schema.isBetween({ minimum: 60, maximum: 3_153_600_000 })).annotate({
      description: "seconds the token is valid for (default 365 days)",
    }),
  ),
  method: Schema.optionalKey(Schema.Literals(["sha256", "sha1", "md5"])),
}).annotate({ identifier: "TokenRequest" });

export const DeviceToken = Schema.Struct({
  token: Schema.String.annotate({ description: "the MQTT password (OneNET token)" }),
  expiresAt: Schema.Int.annotate({ description: "seconds since the epoch" }),
}).annotate({ identifier: "DeviceToken" });

export const ShadowPatch = Schema.Struct({
  desired: Schema.NullOr(JsonObject).annotate({
    description: "JSON merge patch of desired: null deletes a key; null here clears desired",
  }),
}).annotate({ identifier: "ShadowPatch" });

export const ShadowDocument = Schema.Struct({
  deviceKey: Schema.String,
  productKey: Schema.String,
  version: Schema.Int,
  reported: JsonObject,
  desired: JsonObject,
  metadata: JsonObject,
  lastUpdated: Schema.String,
  functions: Schema.optionalKey(Schema.Array(JsonObject)),
  epoch: Schema.optionalKey(
    Schema.Int.annotate({
      description:
        "how many times an Alibaba device reset the version to 0 (absent: never); the ETag names it",
    }),
  ),
}).annotate({
  identifier: "ShadowDocument",
  description: "The canonical shadow document (seed 001)",
});

export const ShadowNameList = Schema.Struct({
  names: Schema.Array(Schema.String).annotate({
    description: "names of the device's named shadows that exist (deleted ones are not), sorted",
  }),
}).annotate({ identifier: "ShadowNameList" });

export const ShadowView = JsonObject.annotate({
  identifier: "ShadowView",
  description: "The shadow in a dialect's format (?view=onenet|aliyun|aws|twin)",
});

export const TwinPatch = Schema.Array(
  Schema.Struct({
    op: Schema.Literals(["add", "replace", "remove"]),
    path: Schema.String.annotate({ description: "JSON Pointer: /property or /component/property" }),
    value: Schema.optionalKey(Schema.Json),
  }),
)
  .check(Schema.isMinLength(1))
  .annotate({
    identifier: "TwinPatch",
    description: "JSON Patch (RFC 6902) of the digital twin's desired values (seed 004)",
  });

export const DigitalTwin = JsonObject.annotate({
  identifier: "DigitalTwin",
  description: "The device's digital twin in the IoT Plug and Play shape (seed 004)",
});

export const Health = Schema.Struct({ status: Schema.String }).annotate({ identifier: "Health" });

export const Readiness = Schema.Struct({
  status: Schema.Literals(["ready", "not ready"]),
  checks: Schema.Record(Schema.String, Schema.String),
}).annotate({ identifier: "Readiness" });

export const AppEvent = Schema.Struct({
  device: Schema.String.annotate({ description: "the device name" }),
  shadow: Schema.optionalKey(
    Schema.String.annotate({
      description: "the named shadow the write changed; absent: the device's classic shadow",
    }),
  ),
  source: Schema.Literals(["device", "cloud"]),
  op: Schema.String.annotate({
    description:
      "update, delete (applied is {desired: null, reported: null}), twin or function: a write of the shadow; telemetry: a message the device sent (Azure devices/{id}/messages/events), which carries properties and body instead of version and applied",
  }),
  version: Schema.optionalKey(
    Schema.Int.annotate({
      description:
        "the shadow's version after the write (each named shadow has its own); absent on telemetry",
    }),
  ),
  timestamp: Millis,
  applied: Schema.optionalKey(
    Schema.Struct({
      desired: Schema.optionalKey(Schema.NullOr(JsonObject)),
      reported: Schema.optionalKey(Schema.NullOr(JsonObject)),
    }).annotate({
      description: "what the write applied; null: the section was deleted; absent on telemetry",
    }),
  ),
  delta: Schema.optionalKey(
    Schema.Struct({
      state: JsonObject,
      metadata: JsonObject,
      version: Schema.Int,
      timestamp: Schema.Int.annotate({ description: "seconds since the epoch" }),
    }).annotate({
      description:
        "when desired ≠ reported after the write: the OneNET update/delta message the device was sent",
    }),
  ),
  properties: Schema.optionalKey(
    Schema.Record(Schema.String, Schema.String).annotate({
      description:
        "telemetry: the message's property bag, URL-decoded (system properties keep their `$.` names: `$.ct`, `$.ce`, `$.mid`…)",
    }),
  ),
  body: Schema.optionalKey(
    Schema.Json.annotate({
      description:
        "telemetry: the payload as JSON when it is a JSON text, else as a string (UTF-8); absent when the payload is not UTF-8 (see bodyBase64)",
    }),
  ),
  bodyBase64: Schema.optionalKey(
    Schema.String.annotate({
      description: "telemetry: a payload that is not UTF-8, base64-encoded (then there is no body)",
    }),
  ),
}).annotate({
  identifier: "AppEvent",
  description:
    "The data of a `change` event on an event stream: one accepted write of a device's shadow, or (op telemetry) one message a device sent",
});

export const MissedEvents = Schema.Struct({
  reason: Schema.Literals(["expired", "reset", "no-history"]),
  detail: Schema.String,
}).annotate({
  identifier: "MissedEvents",
  description:
    "The data of a `missed` event: events after the Last-Event-ID could not all be delivered",
});
