import { type AliyunErrorCode, aliyunErrorCode } from "@umbra/core";
import type { Dialect } from "../dialect.js";
import { type AliyunCredentials, authenticateAliyun, recogniseAliyun } from "./auth.js";
import { renderAliyunControl, renderAliyunErrorCode } from "./render.js";
import {
  type AliyunTopic,
  aliyunMayPublish,
  aliyunSubscribeVerdict,
  parseAliyunTopic,
} from "./topics.js";

export * from "./auth.js";
export * from "./payload.js";
export * from "./render.js";
export * from "./topics.js";

/** The Alibaba Cloud shadow dialect (seed 002) behind the common dialect contract. */
export const aliyunDialect: Dialect<AliyunCredentials, AliyunTopic, AliyunErrorCode> = {
  name: "aliyun",
  recognise: recogniseAliyun,
  claimedIdentity: (c) => c.identity,
  authenticate: authenticateAliyun,
  parseTopic: parseAliyunTopic,
  mayPublish: aliyunMayPublish,
  subscribeVerdict: aliyunSubscribeVerdict,
  errorCode: aliyunErrorCode,
  renderError: renderAliyunErrorCode,
  renderControl: renderAliyunControl,
};
