/**
 * Request and response bodies of the function-call routes (seed 001), as Effect Schema:
 * bodies are decoded with them and the OpenAPI document is generated from them.
 */
import { Schema } from "effect";

const JsonObject = Schema.Record(Schema.String, Schema.Json);
const Millis = Schema.Int.annotate({ description: "milliseconds since the epoch" });

/** A week: the longest a call may wait for its device (the engine's limit). */
export const MAX_FUNCTION_TIMEOUT_S = 7 * 86_400;

export const FunctionCallRequest = Schema.Struct({
  funcKey: Schema.String.check(Schema.isBetweenLength(1, 128)).annotate({
    description: "the function to call: 1–128 characters, not starting with '$'",
  }),
  params: Schema.optionalKey(
    JsonObject.annotate({ description: "the call's parameters (an object; default {})" }),
  ),
  timeout: Schema.optionalKey(
    Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: MAX_FUNCTION_TIMEOUT_S })).annotate({
      description:
        "seconds the call may stay pending — waiting for the device to connect and answer — before it turns into timeout (default 3600)",
    }),
  ),
}).annotate({
  identifier: "FunctionCallRequest",
  description:
    "A remote function call: queued on the shadow as desired._function and delivered to the device now or when it next connects",
});

export const FunctionStatus = Schema.Literals(["pending", "completed", "failed", "timeout"]);

export const FunctionCall = Schema.Struct({
  requestId: Schema.String.annotate({
    description: "{productKey}_{deviceKey}_{funcKey}_{ms}, as in seed 001",
  }),
  funcKey: Schema.String,
  params: JsonObject,
  status: FunctionStatus,
  timestamp: Millis.annotate({ description: "when the call was made (ms)" }),
  queuedAt: Millis.annotate({ description: "when it entered the device's queue (ms)" }),
  isOnline: Schema.Boolean.annotate({
    description: "whether the device was known to have a live session when the call was made",
  }),
  deadline: Millis.annotate({ description: "when a pending call turns into timeout (ms)" }),
  finishedAt: Schema.optionalKey(
    Millis.annotate({ description: "when it completed, failed or timed out (ms)" }),
  ),
  result: Schema.optionalKey(
    Schema.Json.annotate({ description: "the device's result (reported._function_result)" }),
  ),
  position: Schema.optionalKey(
    Schema.Int.annotate({
      description:
        "pending calls only: how many pending calls of the device go before it (0: it is desired._function now)",
    }),
  ),
}).annotate({
  identifier: "FunctionCall",
  description:
    "A function call's state. Finished calls are removed after the retention period (FUNCTION_RETENTION_S).",
});

export const FunctionCallList = Schema.Struct({
  functions: Schema.Array(FunctionCall),
}).annotate({
  identifier: "FunctionCallList",
  description: "The device's function calls, oldest first: the queue and the finished calls kept",
});
