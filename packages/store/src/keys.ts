/**
 * Redis keys. Every key of one device carries the device key as its hash tag, so
 * that a device's keys live in one Redis Cluster slot and one script can touch them.
 *
 * | key                         | type | holds                                         |
 * |-----------------------------|------|-----------------------------------------------|
 * | `umbra:{pid/dn}:shadow`     | hash | `rev` (write counter), `doc` (JSON), `dd`, `bt` |
 * | `umbra:{pid/dn}:shadow:{name}` | hash | a named shadow (AWS), as the classic one |
 * | `umbra:{pid/dn}:shadow-names` | set | names of the device's named shadows that exist (not deleted) |
 * | `umbra:{pid/dn}:device`     | hash | device registry entry: `key`, `createdAt`, `gateway` (a sub-device's) |
 * | `umbra:{pid/dn}:subdevices` | set  | a gateway's sub-devices (`pid/dn` keys)        |
 * | `umbra:{pid/dn}:presence`   | string | the edge and session holding the device, `PX` |
 * | `umbra:{pid/dn}:certificates` | hash | a device's registered client certificates: fingerprint → JSON |
 * | `umbra:{pid/dn}:revoked-certificates` | zset | fingerprints revoked, scored by their notAfter (ms) |
 * | `umbra:certificate:{fp}`    | string | the device key a certificate fingerprint is registered to |
 * | `umbra:product:{pid}:devices` | set | device names of a product (listing)         |
 * | `umbra:{cluster}:members`   | set  | ids of shard members that joined              |
 * | `umbra:{cluster}:member:{id}` | string | a member's status (JSON), expiring with its lease |
 *
 * The cluster keys share the hash tag `{cluster}`: one slot, so one MGET reads them all.
 */
export const shadowKey = (deviceKey: string): string => `umbra:{${deviceKey}}:shadow`;
/**
 * A named shadow (AWS `…/shadow/name/{name}/…`): its own record beside the classic one,
 * in the device's slot. Names are `[$a-zA-Z0-9:_-]{1,64}`, so nothing in one can be
 * read as another key's suffix.
 */
export const namedShadowKey = (deviceKey: string, name: string): string =>
  `umbra:{${deviceKey}}:shadow:${name}`;
/** The names of a device's named shadows that exist (written and not deleted). */
export const shadowNamesKey = (deviceKey: string): string => `umbra:{${deviceKey}}:shadow-names`;
export const deviceRecordKey = (deviceKey: string): string => `umbra:{${deviceKey}}:device`;
export const productDevicesKey = (productId: string): string =>
  `umbra:product:{${productId}}:devices`;
export const clusterMembersKey = "umbra:{cluster}:members";
export const clusterMemberKey = (memberId: string): string => `umbra:{cluster}:member:${memberId}`;
export const productRecordKey = (productId: string): string => `umbra:product:{${productId}}:info`;
export const PRODUCTS_KEY = "umbra:products";
/** A device's live MQTT session: `{edge}:{session}`, expiring unless its edge renews it. */
export const presenceKey = (deviceKey: string): string => `umbra:{${deviceKey}}:presence`;
/** A gateway's registered sub-devices (seed 003), as device keys. */
export const subDevicesKey = (gatewayKey: string): string => `umbra:{${gatewayKey}}:subdevices`;
/** A device's registered client certificates (mutual TLS): fingerprint → JSON. */
export const certificatesKey = (deviceKey: string): string => `umbra:{${deviceKey}}:certificates`;
/** Fingerprints revoked for a device, scored by the certificate's notAfter (ms). */
export const revokedCertificatesKey = (deviceKey: string): string =>
  `umbra:{${deviceKey}}:revoked-certificates`;
/** Which device a certificate fingerprint is registered to (one device per certificate). */
export const certificateOwnerKey = (fingerprint: string): string =>
  `umbra:certificate:{${fingerprint}}`;
