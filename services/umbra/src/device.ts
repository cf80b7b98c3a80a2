import { parseArgs } from "node:util";
import {
  deviceKey,
  nameProblem,
  newDeviceKey,
  signOneNetToken,
  type TokenMethod,
} from "@umbra/dialects";
import { DeviceRegistry, registrableNameProblem } from "@umbra/store";
import { withCliRedis } from "./cli-redis.js";

const usage = `Usage: umbra device <add|token|remove|list> ...

  umbra device add <product-id> <device-name> [--days N] [--method sha256|sha1|md5] [--json]
      register a device: prints its key and a ready OneNET token
  umbra device token <product-id> <device-name> [--days N] [--method ...] [--json]
      a fresh token for a registered device
  umbra device remove <product-id> <device-name>
  umbra device list <product-id>

Redis is REDIS_URL (default redis://127.0.0.1:6379); MQTT_PORT (default 1883) only
shapes the example commands printed.`;

const fail = (message: string): number => {
  console.error(`umbra device: ${message}`);
  return 1;
};

const describe = (
  productId: string,
  deviceName: string,
  key: string,
  days: number,
  method: TokenMethod,
  json: boolean,
): void => {
  const device = { productId, deviceName };
  const expiresAt = Math.floor(Date.now() / 1000) + days * 86_400;
  const token = signOneNetToken(device, { key, expiresAt, method });
  if (json) {
    console.log(JSON.stringify({ productId, deviceName, key, token, expiresAt }));
    return;
  }
  const port = process.env.MQTT_PORT ?? "1883";
  const base = `$sys/${productId}/${deviceName}/image`;
  console.log(`device   ${deviceKey(device)}
key      ${key}
token    ${token}
expires  ${new Date(expiresAt * 1000).toISOString()}

Connect it (username = product id, client id = device name, password = token):
  mosquitto_rr -h 127.0.0.1 -p ${port} -i '${deviceName}' -u '${productId}' -P '${token}' \\
    -t '${base}/update' -e '${base}/update/accepted' -m '{"state":{"reported":{"temperature":21.5}}}'
Watch what the cloud asks of it (deltas):
  mosquitto_sub -h 127.0.0.1 -p ${port} -i '${deviceName}' -u '${productId}' -P '${token}' -t '${base}/update/delta'
(The client id is the device name and a device has one session: a new connection takes the older one over.)`);
};

export const deviceCommand = async (argv: readonly string[]): Promise<number> => {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        days: { type: "string", default: "365" },
        method: { type: "string", default: "sha256" },
        json: { type: "boolean", default: false },
      },
    });
  } catch (e) {
    console.error(`umbra device: ${e instanceof Error ? e.message : String(e)}\n\n${usage}`);
    return 2;
  }
  const [action, productId, deviceName, ...extra] = parsed.positionals;
  const days = Number(parsed.values.days);
  const method = parsed.values.method as string;
  const json = parsed.values.json === true;
  if (action === undefined || action === "help") {
    console.log(usage);
    return action === undefined ? 2 : 0;
  }
  if (!["add", "token", "remove", "list"].includes(action)) {
    console.error(`umbra device: unknown action '${action}'\n\n${usage}`);
    return 2;
  }
  if (
    productId === undefined ||
    (action !== "list" && deviceName === undefined) ||
    extra.length > 0
  ) {
    console.error(`umbra device ${action}: wrong arguments\n\n${usage}`);
    return 2;
  }
  // A new device's name must also be addressable over the API; an older one that is not
  // can still be read and removed here.
  const check = action === "add" ? registrableNameProblem : nameProblem;
  const problem =
    check("product id", productId) ??
    (deviceName === undefined ? undefined : check("device name", deviceName));
  if (problem !== undefined) return fail(problem);
  if (!Number.isFinite(days) || days <= 0 || days > 36_500)
    return fail("--days must be a number of days between 1 and 36500");
  if (method !== "sha256" && method !== "sha1" && method !== "md5")
    return fail("--method must be sha256, sha1 or md5");

  return withCliRedis(fail, async (redis) => {
    const registry = new DeviceRegistry(redis);
    switch (action) {
      case "add": {
        const key = newDeviceKey();
        if (!(await registry.add(productId, deviceName as string, key, Date.now())))
          return fail(
            `${productId}/${deviceName} is already registered (umbra device token ${productId} ${deviceName} prints a token)`,
          );
        describe(productId, deviceName as string, key, days, method, json);
        return 0;
      }
      case "token": {
        const record = await registry.get(`${productId}/${deviceName}`);
        if (record === undefined) return fail(`${productId}/${deviceName} is not registered`);
        describe(productId, deviceName as string, record.key, days, method, json);
        return 0;
      }
      case "remove":
        if (!(await registry.remove(productId, deviceName as string)))
          return fail(`${productId}/${deviceName} is not registered`);
        console.log(`removed ${productId}/${deviceName}`);
        return 0;
      default: {
        const names = await registry.list(productId);
        console.log(json ? JSON.stringify(names) : names.join("\n"));
        return 0;
      }
    }
  });
};
