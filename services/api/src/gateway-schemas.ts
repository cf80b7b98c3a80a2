/**
 * Request and response bodies of the gateway sub-device routes (seed 003), as Effect
 * Schema: bodies are decoded with them and the OpenAPI document is generated from them.
 * The seed's rules on the envelope (50 properties, identifiers) are the engine's.
 */
import { DEFAULT_ONEJSON_VERSION, defaultLimits } from "@umbra/core";
import { Schema } from "effect";

const JsonObject = Schema.Record(Schema.String, Schema.Json);

const Version = Schema.optionalKey(
  Schema.String.check(Schema.isBetweenLength(1, 32)).annotate({
    description: `the thing model version sent in the envelope (default "${DEFAULT_ONEJSON_VERSION}")`,
  }),
);

const Identifier = Schema.String.check(Schema.isBetweenLength(1, 128)).annotate({
  description: "a property identifier of the sub-device's thing model",
});

export const SubDeviceList = Schema.Struct({
  subDevices: Schema.Array(Schema.Struct({ productId: Schema.String, deviceName: Schema.String })),
}).annotate({ identifier: "SubDeviceList", description: "A gateway's registered sub-devices" });

export const SubDevice = Schema.Struct({
  gateway: Schema.Struct({ productId: Schema.String, deviceName: Schema.String }),
  productId: Schema.String,
  deviceName: Schema.String,
}).annotate({ identifier: "SubDevice", description: "A sub-device registered under a gateway" });

export const PropertyGetRequest = Schema.Struct({
  params: Schema.Array(Identifier).annotate({
    description: `the properties to read: 1–${defaultLimits.maxGatewayProperties} identifiers`,
  }),
  version: Version,
}).annotate({ identifier: "SubPropertyGetRequest" });

export const PropertySetRequest = Schema.Struct({
  params: JsonObject.annotate({
    description: `the properties to set and their values: 1–${defaultLimits.maxGatewayProperties} of them`,
  }),
  version: Version,
}).annotate({ identifier: "SubPropertySetRequest" });

export const ServiceInvokeRequest = Schema.Struct({
  input: Schema.optionalKey(
    JsonObject.annotate({ description: "the service's input parameters (default {})" }),
  ),
  version: Version,
}).annotate({ identifier: "SubServiceInvokeRequest" });

export const GatewayAnswer = Schema.Struct({
  id: Schema.String.annotate({ description: "the message id sent to the gateway (≤ 13 digits)" }),
  code: Schema.Int.annotate({ description: "the gateway's result code (200: success)" }),
  msg: Schema.optionalKey(Schema.String.annotate({ description: "the gateway's message" })),
  data: Schema.optionalKey(
    JsonObject.annotate({
      description:
        "property get: the values read; service invoke: deviceName, productID, identifier, output",
    }),
  ),
  shadowVersion: Schema.optionalKey(
    Schema.Int.annotate({
      description:
        "property get: the sub-device's shadow version after the values were stored as reported state",
    }),
  ),
}).annotate({
  identifier: "GatewayAnswer",
  description: "The gateway's reply (…_reply of seed 003), matched to the call by id",
});
