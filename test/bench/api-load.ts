/**
 * The API leg of `npm run bench:e2e -- --api`: applications write desired state over
 * HTTP (JSON merge patch) and devices receive the OneNET delta over MQTT. A round trip
 * is PATCH sent → delta received by the device; each device keeps `inflight` writes
 * outstanding, the next sent when a delta arrives.
 */
import { performance } from "node:perf_hooks";
import { connectAsync, type MqttClient } from "mqtt";
import { ApiClient } from "../load/api-client.js";

export interface ApiLoadSpec {
  /** http://host:port */
  readonly apiUrl: string;
  /** mqtt://host:port */
  readonly mqttUrl: string;
  readonly devices: number;
  readonly inflight: number;
  readonly warmupMs: number;
  readonly measureMs: number;
}

export interface ApiLoadResult {
  /** PATCH → delta at the device, ms, for round trips finished in the window. */
  readonly roundTrips: Float64Array;
  /** PATCH → HTTP answer, ms, same window. */
  readonly answers: Float64Array;
  /** HTTP answers other than 200, over the whole run. */
  readonly failed: number;
  readonly firstFailure: string | null;
  /** Writes whose delta never came (still waiting when the drain time ran out). */
  readonly lost: number;
}

const PRODUCT = "benchapi";

const must = async (res: Response, what: string): Promise<void> => {
  if (res.status >= 300 && res.status !== 409)
    throw new Error(`${what}: HTTP ${res.status} ${await res.text()}`);
  await res.arrayBuffer();
};

/** Registers the product and its devices through the API (409 = already there). */
const register = async (apiUrl: string, devices: number): Promise<void> => {
  const json = { "content-type": "application/json" };
  await must(
    await fetch(`${apiUrl}/v1/products`, {
      method: "POST",
      headers: json,
      body: JSON.stringify({ id: PRODUCT }),
    }),
    "create the bench product",
  );
  for (let i = 0; i < devices; i += 50)
    await Promise.all(
      Array.from({ length: Math.min(50, devices - i) }, async (_, j) =>
        must(
          await fetch(`${apiUrl}/v1/products/${PRODUCT}/devices`, {
            method: "POST",
            headers: json,
            body: JSON.stringify({ name: `a${i + j}` }),
          }),
          `register device a${i + j}`,
        ),
      ),
    );
};

const connectDevice = async (mqttUrl: string, i: number): Promise<MqttClient> => {
  const client = await connectAsync(mqttUrl, {
    clientId: `a${i}`,
    username: PRODUCT,
    protocolVersion: 4,
    clean: true,
    reconnectPeriod: 0,
    connectTimeout: 10_000,
  });
  await client.subscribeAsync(`$sys/${PRODUCT}/a${i}/image/update/delta`);
  return client;
};

export const runApiLoad = async (spec: ApiLoadSpec): Promise<ApiLoadResult> => {
  await register(spec.apiUrl, spec.devices);
  const clients: MqttClient[] = [];
  // Kept-alive connections (node:http costs the load process far less than fetch), and a
  // request met by a connection the server just closed as idle is sent again.
  const api = new ApiClient(spec.apiUrl, { maxSockets: 512 });
  try {
    for (let i = 0; i < spec.devices; i += 50)
      clients.push(
        ...(await Promise.all(
          Array.from({ length: Math.min(50, spec.devices - i) }, (_, j) =>
            connectDevice(spec.mqttUrl, i + j),
          ),
        )),
      );
    return await new Promise<ApiLoadResult>((resolve) => {
      const roundTrips: number[] = [];
      const answers: number[] = [];
      let failed = 0;
      let firstFailure: string | null = null;
      let sending = true;
      let inFlight = 0;
      let seq = 0;
      // Per device: the send time of each outstanding write, by the value it sets.
      const pending = clients.map(() => new Map<number, number>());
      const start = performance.now();
      const windowStart = start + spec.warmupMs;
      const windowEnd = windowStart + spec.measureMs;
      const inWindow = (t: number) => t >= windowStart && t <= windowEnd;

      const finish = () => {
        for (const client of clients) client.removeAllListeners("message");
        resolve({
          roundTrips: Float64Array.from(roundTrips),
          answers: Float64Array.from(answers),
          failed,
          firstFailure,
          lost: inFlight,
        });
      };

      const send = (i: number) => {
        const n = seq++;
        const sentAt = performance.now();
        pending[i]?.set(n, sentAt);
        inFlight++;
        api
          .call(
            "PATCH",
            `/v1/products/${PRODUCT}/devices/a${i}/shadow`,
            { desired: { setpoint: n } },
            "application/merge-patch+json",
          )
          .then(
            ({ status }) => {
              const now = performance.now();
              if (status === 200) {
                if (inWindow(now)) answers.push(now - sentAt);
                return;
              }
              failed++;
              firstFailure ??= `a${i}: HTTP ${status}`;
              if (pending[i]?.delete(n) === true) inFlight--;
              if (sending) send(i);
            },
            (error: Error) => {
              failed++;
              firstFailure ??= `a${i}: ${error.message}`;
              if (pending[i]?.delete(n) === true) inFlight--;
              if (sending) send(i);
            },
          );
      };

      clients.forEach((client, i) => {
        client.on("message", (_topic, payload) => {
          const now = performance.now();
          let value: unknown;
          try {
            value = (JSON.parse(payload.toString()) as { state?: { setpoint?: unknown } }).state
              ?.setpoint;
          } catch {
            return;
          }
          const sentAt = typeof value === "number" ? pending[i]?.get(value) : undefined;
          if (sentAt === undefined) return;
          pending[i]?.delete(value as number);
          inFlight--;
          if (inWindow(now)) roundTrips.push(now - sentAt);
          if (sending) send(i);
          else if (inFlight === 0) finish();
        });
      });

      setTimeout(() => {
        sending = false;
        if (inFlight === 0) finish();
        else setTimeout(finish, 5_000);
      }, windowEnd - start);
      for (let i = 0; i < clients.length; i++) for (let k = 0; k < spec.inflight; k++) send(i);
    });
  } finally {
    for (const client of clients) client.end(true);
    api.close();
  }
};
