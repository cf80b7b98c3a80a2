/**
 * Run as a child process with NODE_EXTRA_CA_CERTS set (the only way the Alibaba SDK
 * trusts a private CA): connects over `mqtts://`, reports and reads its shadow, and
 * prints what it received as one JSON line. Options: one JSON argument.
 */
import { type AliyunDeviceOptions, AliyunTestDevice } from "./aliyun.js";

const options = JSON.parse(process.argv[2] ?? "{}") as AliyunDeviceOptions;
const device = await AliyunTestDevice.connect(options);
device.sdk.postShadow({ over: "tls" });
const posted = await device.next();
device.sdk.getShadow();
const got = await device.next();
await device.close();
process.stdout.write(`${JSON.stringify({ posted, got, subacks: device.subacks })}\n`);
