// Fakes and helpers for tests of packages that use @weft/telemetry.

import type { LogFields, Logger, LogLevel } from '../log/logger.ts';
import type { LineSink } from '../sink.ts';
import type { IdSource } from '../trace/ids.ts';

export { parseKvLine } from './kv-line.ts';
export { createManualClock, type ManualClock } from './manual-clock.ts';
export { type PromFamily, type PromSample, type PromText, parsePrometheusText } from './prometheus-text.ts';

/** A sink keeping lines in memory (without the trailing '\n'). */
export interface MemorySink extends LineSink {
  readonly lines: string[];
  clear(): void;
}

export function memorySink(): MemorySink {
  const lines: string[] = [];
  return {
    lines,
    write(line: string): void {
      lines.push(line.endsWith('\n') ? line.slice(0, -1) : line);
    },
    clear(): void {
      lines.length = 0;
    },
  };
}

export interface LogRecord {
  readonly level: LogLevel;
  readonly msg: string;
  readonly fields: LogFields;
}

/** A Logger recording calls as structured records (every level enabled). */
export interface CaptureLogger extends Logger {
  readonly records: LogRecord[];
}

export function captureLogger(base: LogFields = {}, records: LogRecord[] = []): CaptureLogger {
  const push = (level: LogLevel) => (msg: string, fields?: LogFields) => {
    records.push({ level, msg, fields: { ...base, ...fields } });
  };
  return {
    records,
    debug: push('debug'),
    info: push('info'),
    warn: push('warn'),
    error: push('error'),
    child: (fields) => captureLogger({ ...base, ...fields }, records),
    enabled: () => true,
  };
}

/**
 * Deterministic ids: trace ids, span ids and request ids from a counter, so expected headers
 * can be written out in tests. Span n is `n` as 16 hex digits (starting at 1), trace n likewise
 * with 32, request ids are UUID-shaped.
 */
export function sequenceIds(start = 1): IdSource & { readonly issued: number } {
  let n = start;
  let issued = 0;
  const next = (): number => {
    issued++;
    return n++;
  };
  return {
    get issued() {
      return issued;
    },
    traceId: () => next().toString(16).padStart(32, '0'),
    spanId: () => next().toString(16).padStart(16, '0'),
    requestId: () => `00000000-0000-4000-8000-${next().toString(16).padStart(12, '0')}`,
  };
}
