// The logger every Weft package writes through (packages never touch console). Packages depend
// on the small `Logger` interface only; the composition root picks the implementation.
//
// Why not pino: the default here must write the same escaped key=value lines as the access log
// (one escaping rule, tested once), run unchanged on Node and Bun without worker-thread
// transports, and cost nothing when a level is off. Package logs are low-volume (config
// changes, rejected inputs logged once, connection errors); the per-request path uses the
// access log and metrics instead. An application that prefers pino adapts it with `fromPino`.

import { ABSENT, kvKey, kvString, truncate } from '../format/kv.ts';
import type { LineSink } from '../sink.ts';
import { type Clock, systemClock } from '../time/clock.ts';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
/** A configured threshold: a level, or 'silent' for nothing. */
export type LogLevelSetting = LogLevel | 'silent';
export type LogFormat = 'kv' | 'json';
export type LogFields = Readonly<Record<string, unknown>>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger adding `fields` to every line (e.g. { component: 'ztunnel', workload }). */
  child(fields: LogFields): Logger;
  /** Whether `level` is written: guard expensive field construction with it. */
  enabled(level: LogLevel): boolean;
}

export interface LoggerOptions {
  /** Where lines go, e.g. `streamSink(process.stderr)`. */
  readonly sink: LineSink;
  /** Default 'info'. */
  readonly level?: LogLevelSetting;
  /** Default 'kv'. */
  readonly format?: LogFormat;
  /** Fields on every line. */
  readonly fields?: LogFields;
  /** Wall clock for the `time` field. Default `systemClock`. */
  readonly clock?: Clock;
  /** Longest string value written (UTF-16 units), longer ones are cut. Default 4096. */
  readonly maxValueLength?: number;
}

const RANK: Readonly<Record<LogLevelSetting, number>> = {
  debug: 10,
  info: 20,
  warn: 30,
  error: 40,
  silent: 99,
};
const RESERVED = new Set(['time', 'level', 'msg']);

/** Reads a level from configuration ('debug' | 'info' | 'warn' | 'error' | 'silent', any case). */
export function parseLogLevel(value: string | undefined): LogLevelSetting | undefined {
  if (value === undefined) return undefined;
  const v = value.trim().toLowerCase();
  switch (v) {
    case 'debug':
    case 'info':
    case 'warn':
    case 'error':
    case 'silent':
      return v;
    case 'warning':
      return 'warn';
    case 'trace':
      return 'debug';
    case 'off':
    case 'none':
      return 'silent';
    default:
      return undefined;
  }
}

interface Shared {
  readonly sink: LineSink;
  readonly threshold: number;
  readonly format: LogFormat;
  readonly clock: Clock;
  readonly max: number;
}

/** The default logger: one key=value or JSON line per call. */
export function createLogger(options: LoggerOptions): Logger {
  const shared: Shared = {
    sink: options.sink,
    threshold: RANK[options.level ?? 'info'],
    format: options.format ?? 'kv',
    clock: options.clock ?? systemClock,
    max: options.maxValueLength ?? 4096,
  };
  return new LineLogger(shared, options.fields ?? {});
}

class LineLogger implements Logger {
  readonly #shared: Shared;
  readonly #fields: LogFields;
  // kv: the base fields rendered once, so a child costs nothing per line
  readonly #kvSuffix: string;

  constructor(shared: Shared, fields: LogFields) {
    this.#shared = shared;
    this.#fields = fields;
    this.#kvSuffix = shared.format === 'kv' ? renderKvFields(fields, shared.max) : '';
  }

  debug(msg: string, fields?: LogFields): void {
    if (this.#shared.threshold <= 10) this.#write('debug', msg, fields);
  }
  info(msg: string, fields?: LogFields): void {
    if (this.#shared.threshold <= 20) this.#write('info', msg, fields);
  }
  warn(msg: string, fields?: LogFields): void {
    if (this.#shared.threshold <= 30) this.#write('warn', msg, fields);
  }
  error(msg: string, fields?: LogFields): void {
    if (this.#shared.threshold <= 40) this.#write('error', msg, fields);
  }
  enabled(level: LogLevel): boolean {
    return this.#shared.threshold <= RANK[level];
  }
  child(fields: LogFields): Logger {
    return new LineLogger(this.#shared, { ...this.#fields, ...fields });
  }

  #write(level: LogLevel, msg: string, fields: LogFields | undefined): void {
    const s = this.#shared;
    let line: string;
    try {
      const time = new Date(s.clock.now()).toISOString();
      if (s.format === 'kv') {
        line = `time=${time} level=${level} msg=${kvString(truncate(msg, s.max))}${this.#kvSuffix}`;
        if (fields !== undefined) line += renderKvFields(fields, s.max);
      } else {
        const record: Record<string, unknown> = { time, level, msg: truncate(msg, s.max) };
        addJsonFields(record, this.#fields, s.max);
        if (fields !== undefined) addJsonFields(record, fields, s.max);
        line = JSON.stringify(record, bigintReplacer);
      }
    } catch {
      // a field whose getter or toString throws: log the message alone rather than nothing
      line =
        s.format === 'kv'
          ? `level=${level} msg=${kvString(truncate(msg, s.max))} log_error=unrenderable_fields`
          : JSON.stringify({ level, msg: truncate(msg, s.max), log_error: 'unrenderable_fields' });
    }
    try {
      s.sink.write(`${line}\n`);
    } catch {
      // a throwing sink must not turn a log call into a crash
    }
  }
}

function fieldKey(key: string): string {
  return RESERVED.has(key) ? `field_${key}` : key;
}

function renderKvFields(fields: LogFields, max: number): string {
  let out = '';
  for (const key of Object.keys(fields)) {
    const value = fields[key];
    if (value === undefined) continue;
    out += ` ${kvKey(fieldKey(key))}=${kvValueOf(value, max)}`;
  }
  return out;
}

function kvValueOf(value: unknown, max: number): string {
  switch (typeof value) {
    case 'string':
      return kvString(truncate(value, max));
    case 'number':
    case 'boolean':
    case 'bigint':
      return String(value);
    case 'undefined':
      return ABSENT;
    case 'symbol':
      return kvString(truncate(value.toString(), max));
    case 'function':
      return '"[function]"';
    case 'object':
      if (value === null) return 'null';
      if (value instanceof Error) return kvString(truncate(errorText(value), max));
      if (value instanceof Date) return kvString(value.toISOString());
      return kvString(truncate(safeJson(value), max));
    default:
      return ABSENT;
  }
}

function addJsonFields(record: Record<string, unknown>, fields: LogFields, max: number): void {
  for (const key of Object.keys(fields)) {
    const value = fields[key];
    if (value === undefined) continue;
    record[fieldKey(key)] = jsonValueOf(value, max);
  }
}

function jsonValueOf(value: unknown, max: number): unknown {
  switch (typeof value) {
    case 'string':
      return truncate(value, max);
    case 'bigint':
    case 'symbol':
      return value.toString();
    case 'function':
      return '[function]';
    case 'object':
      if (value === null) return null;
      if (value instanceof Error) {
        const code = (value as { code?: unknown }).code;
        return typeof code === 'string' || typeof code === 'number'
          ? { name: value.name, message: truncate(value.message, max), code }
          : { name: value.name, message: truncate(value.message, max) };
      }
      if (value instanceof Date) return value.toISOString();
      // nested objects go through as they are; a cycle fails the line's stringify and the
      // message is written without fields (see #write)
      return value;
    default:
      return value;
  }
}

function errorText(err: Error): string {
  const code = (err as { code?: unknown }).code;
  const base = `${err.name}: ${err.message}`;
  return typeof code === 'string' || typeof code === 'number' ? `${base} (${String(code)})` : base;
}

function safeJson(value: object): string {
  try {
    return JSON.stringify(value, bigintReplacer) ?? ABSENT;
  } catch {
    return '[unserializable]';
  }
}

function bigintReplacer(_key: string, v: unknown): unknown {
  return typeof v === 'bigint' ? v.toString() : v;
}

/** A logger that writes nothing (the default when a component gets no logger). */
export const noopLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return noopLogger;
  },
  enabled() {
    return false;
  },
};

/** The subset of a pino logger `fromPino` needs (pino's `(obj, msg)` call shape). */
export interface PinoLike {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
  child(bindings: Record<string, unknown>): PinoLike;
  isLevelEnabled(level: string): boolean;
}

/** Adapts a pino (or pino-shaped) logger to `Logger`, for applications that already use pino. */
export function fromPino(p: PinoLike): Logger {
  return {
    debug: (msg, fields) => p.debug(fields ?? {}, msg),
    info: (msg, fields) => p.info(fields ?? {}, msg),
    warn: (msg, fields) => p.warn(fields ?? {}, msg),
    error: (msg, fields) => p.error(fields ?? {}, msg),
    child: (fields) => fromPino(p.child({ ...fields })),
    enabled: (level) => p.isLevelEnabled(level),
  };
}
