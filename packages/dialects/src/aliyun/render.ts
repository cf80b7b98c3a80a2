import {
  ALIYUN_ERROR_MESSAGES,
  type AliyunErrorCode,
  renderAliyunControl,
  type ShadowDocument,
  seconds,
} from "@umbra/core";

/**
 * Outgoing messages on `/shadow/get/{pk}/{dn}` (DIALECTS.md §3.3). The engine's
 * Alibaba view renders the document, the update reply and `control`; this adds the
 * `get` answer (the control shape with `method: "reply"`) and an error reply from a
 * code, for refusals found before the engine runs.
 */
export { renderAliyunControl, renderAliyunReply } from "@umbra/core";

/** Answer to `{"method":"get"}`: the document inside `payload`, `version` at the top. */
export const renderAliyunGetReply = (doc: ShadowDocument, timestampMs: number) => {
  const control = renderAliyunControl(doc, timestampMs);
  return {
    method: "reply" as const,
    payload: control.payload,
    version: control.version,
    timestamp: control.timestamp,
  };
};

/** Error reply; `errorcode` is a string, as the platform sends it. */
export const renderAliyunErrorCode = (code: AliyunErrorCode, timestampMs: number) => ({
  method: "reply" as const,
  payload: {
    status: "error" as const,
    content: { errorcode: String(code), errormessage: ALIYUN_ERROR_MESSAGES[code] },
  },
  timestamp: seconds(timestampMs),
});
