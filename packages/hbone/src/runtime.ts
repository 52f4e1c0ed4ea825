// Capabilities the components take instead of reaching for globals (STYLE.md point 7).

/** Structured logging; @weft/telemetry's logger fits. The default discards. */
export interface Logger {
  info(message: string, fields?: Readonly<Record<string, unknown>>): void;
  warn(message: string, fields?: Readonly<Record<string, unknown>>): void;
}

export const silentLogger: Logger = { info: () => {}, warn: () => {} };

/** A monotonic millisecond clock, for durations and rate windows. */
export interface Clock {
  now(): number;
}

export const monotonicClock: Clock = { now: () => performance.now() };
