/** Limits enforced before any state changes. All configurable; the defaults follow SPEC §3. */
export interface Limits {
  /** Largest request payload accepted, in bytes. */
  readonly maxPayloadBytes: number;
  /** Largest desired+reported a shadow may grow to, in bytes of JSON. */
  readonly maxDocumentBytes: number;
  /** Deepest nesting of a property value below desired/reported (`{"a":1}` is 1). */
  readonly maxDepth: number;
  /** Deepest nesting of a digital twin property value (seed 004: five levels). */
  readonly maxTwinDepth: number;
  /** Longest property name, in UTF-16 code units. */
  readonly maxKeyLength: number;
  /** Most properties named by one gateway sub-device call (seed 003: 50). */
  readonly maxGatewayProperties: number;
  /**
   * Most function calls waiting for one device; as many finished calls are kept at most
   * (the oldest go first), so a document's call list stays bounded.
   */
  readonly maxPendingCalls: number;
}

export const defaultLimits: Limits = {
  maxPayloadBytes: 16 * 1024,
  maxDocumentBytes: 16 * 1024,
  maxDepth: 8,
  maxTwinDepth: 5,
  maxKeyLength: 128,
  maxGatewayProperties: 50,
  maxPendingCalls: 16,
};
