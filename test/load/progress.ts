/**
 * What a run shows while it runs: on a terminal one line redrawn in place with a bar; in
 * a log (CI, a pipe) a plain line now and then and at every change of phase.
 */

export type Phase = "starting" | "registering" | "connecting" | "measuring" | "draining";

export interface ProgressState {
  readonly phase: Phase;
  readonly elapsedS: number;
  readonly devices: number;
  readonly registered: number;
  readonly connected: number;
  /** Writes answered in the last whole second. */
  readonly perSecond: number;
  readonly errors: number;
  /** Seconds of the measured window gone, and its length. */
  readonly windowS: number;
  readonly durationS: number;
}

export interface Progress {
  update(state: ProgressState): void;
  /** A line of its own (cluster start-up, warnings), above the bar on a terminal. */
  log(line: string): void;
  done(): void;
}

const clock = (s: number) => {
  const whole = Math.max(0, Math.floor(s));
  return `${String(Math.floor(whole / 60)).padStart(2, "0")}:${String(whole % 60).padStart(2, "0")}`;
};

const bar = (fraction: number, width = 24) => {
  const full = Math.round(Math.min(1, Math.max(0, fraction)) * width);
  return `[${"#".repeat(full)}${"-".repeat(width - full)}]`;
};

/** How far along the current phase is, 0–1. */
const fractionOf = (s: ProgressState): number =>
  s.phase === "registering"
    ? s.registered / s.devices
    : s.phase === "connecting"
      ? s.connected / s.devices
      : s.phase === "measuring"
        ? s.windowS / s.durationS
        : s.phase === "starting"
          ? 0
          : 1;

export const describe = (s: ProgressState): string =>
  `${clock(s.elapsedS)} ${s.phase.padEnd(11)} ` +
  (s.phase === "measuring" ? `${clock(s.windowS)}/${clock(s.durationS)} ` : "") +
  (s.phase === "registering" ? `registered ${s.registered}/${s.devices} ` : "") +
  `connected ${s.connected}/${s.devices} | ${s.perSecond.toLocaleString("en-US")} writes/s | errors ${s.errors}`;

/** Where progress goes: a terminal (isTTY) or anything that takes lines. */
export interface ProgressStream {
  readonly isTTY?: boolean;
  write(text: string): unknown;
}

export const progressReporter = (
  stream: ProgressStream = process.stderr,
  /** Without a terminal: seconds between two plain lines. */
  everyS = 10,
): Progress => {
  const tty = stream.isTTY === true;
  let lastPhase: Phase | undefined;
  let lastLineAt = Number.NEGATIVE_INFINITY;
  let drawn = false;
  const clear = () => {
    if (tty && drawn) stream.write("\r\x1b[2K");
    drawn = false;
  };
  return {
    update(state) {
      if (tty) {
        stream.write(`\r\x1b[2K${bar(fractionOf(state))} ${describe(state)}`);
        drawn = true;
        return;
      }
      if (state.phase !== lastPhase || state.elapsedS - lastLineAt >= everyS) {
        stream.write(`load ${describe(state)}\n`);
        lastPhase = state.phase;
        lastLineAt = state.elapsedS;
      }
    },
    log(line) {
      clear();
      stream.write(`load: ${line}\n`);
    },
    done() {
      if (tty && drawn) stream.write("\n");
      drawn = false;
    },
  };
};
