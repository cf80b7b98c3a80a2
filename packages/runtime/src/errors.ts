import { Cause, Config, Data } from "effect";

/**
 * Why a service could not start, as data (no message of their own): `renderFailure` is
 * the one place that turns them, and Effect's own `ConfigError`, into the line an
 * operator reads.
 */

/** A variable whose value is unusable, or that contradicts another one. */
export class ConfigInvalid extends Data.TaggedError("ConfigInvalid")<{
  readonly variable: string;
  readonly problem: string;
}> {}

/** NATS or Redis did not answer at start. `url` is shown without its password. */
export class ConnectFailed extends Data.TaggedError("ConnectFailed")<{
  readonly server: "NATS" | "Redis";
  readonly url: string;
  readonly reason: string;
}> {}

/** A listener (MQTT, MQTT over TLS, HTTP, operations) could not bind its port. */
export class ListenFailed extends Data.TaggedError("ListenFailed")<{
  /** What listens, as an operator names it: "MQTT", "HTTP", "ops". */
  readonly what: string;
  readonly host: string;
  readonly port: number;
  /** The variable that sets the port. */
  readonly variable: string;
  /** The system error code (EADDRINUSE, EACCES…), when there is one. */
  readonly code: string | undefined;
  readonly reason: string;
}> {}

/** Anything else a start needs and did not get (a file, a child server, certificates). */
export class StartFailed extends Data.TaggedError("StartFailed")<{ readonly reason: string }> {}

export type StartupError = ConfigInvalid | ConnectFailed | ListenFailed | StartFailed;

export const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** A listen failure from the error `listen()` rejected with. */
export const listenFailed = (
  what: string,
  host: string,
  port: number,
  variable: string,
  e: unknown,
): ListenFailed =>
  new ListenFailed({
    what,
    host,
    port,
    variable,
    code: (e as { code?: string } | undefined)?.code,
    reason: messageOf(e),
  });

/** A URL as it may be shown: its password (`redis://:secret@host`) masked. */
export const showUrl = (url: string): string => {
  try {
    const parsed = new URL(url);
    if (parsed.password === "") return url;
    parsed.password = "***";
    return parsed.toString();
  } catch {
    return url;
  }
};

export const renderStartupError = (error: StartupError): string => {
  switch (error._tag) {
    case "ConfigInvalid":
      return `bad configuration: ${error.variable}: ${error.problem}`;
    case "ConnectFailed":
      return `cannot connect to ${error.server} at ${error.url}: ${error.reason}`;
    case "ListenFailed":
      if (error.code === "EADDRINUSE")
        return `${error.what} port ${error.port} on ${error.host} is already in use: stop what holds it or set ${error.variable}`;
      if (error.code === "EACCES")
        return `not allowed to listen on ${error.what} port ${error.port}: set ${error.variable}`;
      return `cannot listen on ${error.host}:${error.port} (${error.variable}): ${error.reason}`;
    case "StartFailed":
      return error.reason;
  }
};

const STARTUP_TAGS = new Set(["ConfigInvalid", "ConnectFailed", "ListenFailed", "StartFailed"]);

const isStartupError = (e: unknown): e is StartupError =>
  e instanceof Error && STARTUP_TAGS.has((e as { _tag?: string })._tag ?? "");

/** Effect's ConfigError reads "<what was expected>\n  at ["VARIABLE"]". */
const renderConfigError = (error: Config.ConfigError): string => {
  const text = messageOf(error.cause);
  const at = /^(?:\w*Error\()?([\s\S]*?)\s*\n\s*at \["([^"]+)"\]\)?\s*$/.exec(text);
  if (at === null) return `bad configuration: ${text.replace(/\s*\n\s*/g, " ")}`;
  return `bad configuration: ${at[2]}: ${(at[1] as string).trim()}`;
};

/** What stopped a service from starting (or serving), as one line for the operator. */
export const renderFailure = (cause: Cause.Cause<unknown>): string => {
  const error = Cause.squash(cause);
  if (isStartupError(error)) return renderStartupError(error);
  if (error instanceof Config.ConfigError) return renderConfigError(error);
  return messageOf(error).replace(/\s*\n\s*/g, " ");
};
