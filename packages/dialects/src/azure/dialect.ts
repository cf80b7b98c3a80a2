import { err, ShadowErrors } from "@umbra/core";
import { claimOf, type DeviceDialect } from "../dialect.js";
import { authenticateAzure, recogniseAzure } from "./auth.js";

/**
 * Azure IoT Hub, so far its authentication only (issue 14 §2): a device connecting
 * with a SAS token is verified and may use the topics of the dialects Umbra speaks.
 * The twin topics (`$iothub/twin/…`) arrive with the Azure dialect's own issue; until
 * then this dialect reads no topic and renders nothing.
 */
export const azureDialect: DeviceDialect = {
  name: "azure",

  recognise: (clientId, username) =>
    claimOf("azure", recogniseAzure(clientId, username), (c, password, key, nowMs) =>
      authenticateAzure(c, password, key, Math.floor(nowMs / 1000)),
    ),

  parseTopic: () => undefined,
  subscribeVerdict: () => undefined,
  readCommand: (op) =>
    err({ error: ShadowErrors.invalidParameter("/op", `no Azure request yet: ${op}`) }),
  renderAnswer: () => {},
  renderPush: () => {},
};
