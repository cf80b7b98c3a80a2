/**
 * Every NATS subject Umbra uses is built here, and nowhere else
 * (docs/ARCHITECTURE.md lists them in a table).
 *
 * | subject                  | from           | to                        | carries             |
 * |--------------------------|----------------|---------------------------|---------------------|
 * | `umbra.cmd.{partition}`  | edge, clients  | the shard owning it       | command frames      |
 * | `umbra.evt.{shard}`      | shard          | reply (queue group)       | result events       |
 * | `umbra.edge.{edge}`      | shard, reply   | that edge                 | QoS 1 acks; answers |
 * | `umbra.dev.{pid}.{dn}`   | reply, edge    | the edge holding a session| outbound frames     |
 * | `umbra.cluster.changed`  | shards         | shards                    | membership nudges   |
 * | `umbra.app.{pid}`        | reply          | api (via JetStream)       | application events  |
 * | `umbra.gw.{pid}.{dn}`    | edge           | api processes calling it  | gateway replies     |
 *
 * A gateway call (seed 003) is a NATS request on the gateway's `umbra.dev.{pid}.{dn}`:
 * the edge holding its session answers whether it delivered the call.
 */
const PREFIX = "umbra";

export const commandSubject = (partition: number): string => `${PREFIX}.cmd.${partition}`;
/** A shard's result events: all its actors' of one event-loop turn in one message. */
export const eventSubject = (shardId: string): string => `${PREFIX}.evt.${subjectToken(shardId)}`;
/** Every shard's events, for the reply service's queue subscription. */
export const ALL_EVENTS = `${PREFIX}.evt.*`;
export const REPLY_QUEUE = "reply";
/**
 * An edge's inbox: acks of its QoS 1 commands (from shards) and the answers to its
 * devices' requests (from the reply service), so that one message carries many devices'.
 */
export const edgeSubject = (edgeId: string): string => `${PREFIX}.edge.${subjectToken(edgeId)}`;
export const deviceSubject = (productId: string, deviceName: string): string =>
  `${PREFIX}.dev.${subjectToken(productId)}.${subjectToken(deviceName)}`;

/**
 * A product's application events: the accepted changes of one reply turn (JSON array),
 * kept by the JetStream stream the API creates and served as Server-Sent Events.
 */
export const appSubject = (productId: string): string => `${PREFIX}.app.${subjectToken(productId)}`;
/** Every product's application events: the subjects of the API's JetStream stream. */
export const ALL_APP = `${PREFIX}.app.>`;

/**
 * What a device answers to calls — a gateway's `thing/sub/…_reply`, or a device's own
 * `thing/…_reply` to a call made to itself — forwarded by the edge holding its session
 * to every API process waiting on one of its calls (they match the reply's id and call).
 */
export const gatewayReplySubject = (productId: string, deviceName: string): string =>
  `${PREFIX}.gw.${subjectToken(productId)}.${subjectToken(deviceName)}`;

/**
 * A shard announced a new view of the membership (joined, leaving): the others read
 * the membership now instead of at their next heartbeat, which keeps the time two
 * shards serve one partition short. Empty payload.
 */
export const CLUSTER_CHANGED = `${PREFIX}.cluster.changed`;

const SAFE_TOKEN = /^[A-Za-z0-9_-]+$/;

/**
 * A NATS subject token for an arbitrary name. Names made only of `[A-Za-z0-9_-]` are
 * used as they are; anything else (dots, wildcards, non-ASCII) becomes `~` + base64url,
 * which cannot collide with a plain name because `~` is not in the plain alphabet.
 */
export const subjectToken = (name: string): string =>
  SAFE_TOKEN.test(name) ? name : `~${Buffer.from(name, "utf8").toString("base64url")}`;
