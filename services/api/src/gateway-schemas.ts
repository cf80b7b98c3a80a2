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

export const SubDeviceList = Schema.Struct({
  subDevices: Schema.Array(Schema.Struct({ productId: Schema.String, deviceName: Schema.String })),
}).annotate({ identifier: "SubDeviceList", description: "A gateway's registered sub-devices" });

export const SubDevice = Schema.Struct({
  gateway: Schema.Struct({ productId: Schema.String, deviceName: Schema.String }),
  productId: Schema.String,
  deviceName: Schema.String,
}).annotate({ identifier: "SubDevice", description: "A sub-device registered under a gateway" });

/**
 * The bodies of one family of calls — a gateway's sub-device (seed 003) or a device
 * itself (thing model): the same shapes, named apart in the OpenAPI document.
 */
const callSchemas = (options: {
  /** Prefix of the schema names: `Sub`, `Device`. */
  readonly prefix: string;
  /** Who answers, for descriptions: "the gateway", "the device". */
  readonly callee: string;
  /** Whose thing model names the properties. */
  readonly model: string;
  readonly reply: string;
  readonly invokeData: string;
  readonly answerIdentifier: string;
}) => {
  const Identifier = Schema.String.check(Schema.isBetweenLength(1, 128)).annotate({
    description: `a property identifier of the ${options.model}'s thing model`,
  });
  return {
    PropertyGetRequest: Schema.Struct({
      params: Schema.Array(Identifier).annotate({
        description: `the properties to read: 1–${defaultLimits.maxGatewayProperties} identifiers`,
      }),
      version: Version,
    }).annotate({ identifier: `${options.prefix}PropertyGetRequest` }),
    PropertySetRequest: Schema.Struct({
      params: JsonObject.annotate({
        description: `the properties to set and their values: 1–${defaultLimits.maxGatewayProperties} of them`,
      }),
      version: Version,
    }).annotate({ identifier: `${options.prefix}PropertySetRequest` }),
    ServiceInvokeRequest: Schema.Struct({
      input: Schema.optionalKey(
        JsonObject.annotate({ description: "the service's input parameters (default {})" }),
      ),
      version: Version,
    }).annotate({ identifier: `${options.prefix}ServiceInvokeRequest` }),
    Answer: Schema.Struct({
      id: Schema.String.annotate({
        description: `the message id sent to ${options.callee} (≤ 13 digits)`,
      }),
      code: Schema.Int.annotate({ description: `${options.callee}'s result code (200: success)` }),
      msg: Schema.optionalKey(
        Schema.String.annotate({ description: `${options.callee}'s message` }),
      ),
      data: Schema.optionalKey(
        JsonObject.annotate({
          description: `property get: the values read; service invoke: ${options.invokeData}`,
        }),
      ),
      shadowVersion: Schema.optionalKey(
        Schema.Int.annotate({
          description: `property get: the ${options.model}'s shadow version after the values were stored as reported state`,
        }),
      ),
    }).annotate({
      identifier: options.answerIdentifier,
      description: `${options.reply}, matched to the call by id`,
    }),
  };
};

const sub = callSchemas({
  prefix: "Sub",
  callee: "the gateway",
  model: "sub-device",
  reply: "The gateway's reply (…_reply of seed 003)",
  invokeData: "deviceName, productID, identifier, output",
  answerIdentifier: "GatewayAnswer",
});

export const PropertyGetRequest = sub.PropertyGetRequest;
export const PropertySetRequest = sub.PropertySetRequest;
export const ServiceInvokeRequest = sub.ServiceInvokeRequest;
export const GatewayAnswer = sub.Answer;

/** Calls to a device itself on its thing-model topics. */
export const device = callSchemas({
  prefix: "Device",
  callee: "the device",
  model: "device",
  reply:
    "The device's reply (thing/property/set_reply, get_reply, service/{identifier}/invoke_reply)",
  invokeData: "the service's output",
  answerIdentifier: "DeviceCallAnswer",
});
