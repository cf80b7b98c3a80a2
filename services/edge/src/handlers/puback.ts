/**
 * PUBACK from a device. The edge delivers at QoS 0 only, so there is nothing to
 * acknowledge; a stray PUBACK is ignored rather than treated as a protocol error.
 */
export const handlePuback = (): void => {};
