import type { Duration } from '../gen/google/protobuf/duration.ts';

/** Milliseconds as a google.protobuf.Duration. */
export function msDuration(ms: number): Duration {
  const whole = Math.max(0, Math.round(ms));
  return { seconds: Math.floor(whole / 1000), nanos: (whole % 1000) * 1_000_000 };
}
