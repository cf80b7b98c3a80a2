/**
 * Redis keys. Every key of one device carries the device key as its hash tag, so
 * that a device's keys live in one Redis Cluster slot and one script can touch them.
 *
 * | key                         | type | holds                                         |
 * |-----------------------------|------|-----------------------------------------------|
 * | `umbra:{pid/dn}:shadow`     | hash | `rev` (write counter), `doc` (JSON), `dd`     |
 * | `umbra:{pid/dn}:device`     | hash | device registry entry: `key`, `createdAt`     |
 * | `umbra:product:{pid}:devices` | set | device names of a product (listing)         |
 */
export const shadowKey = (deviceKey: string): string => `umbra:{${deviceKey}}:shadow`;
export const deviceRecordKey = (deviceKey: string): string => `umbra:{${deviceKey}}:device`;
export const productDevicesKey = (productId: string): string =>
  `umbra:product:{${productId}}:devices`;
