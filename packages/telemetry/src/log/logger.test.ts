import { describe, expect, it } from 'vitest';
import { createManualClock, memorySink, parseKvLine } from '../testing/index.ts';
import { createLogger, fromPino, noopLogger, type PinoLike, parseLogLevel } from './logger.ts';

const T0 = Date.UTC(2025, 0, 1, 12, 0, 0);

describe('createLogger (kv)', () => {
  it('writes one key=value line with time, level, msg and fields', () => {
    const sink = memorySink();
    const log = createLogger({ sink, clock: createManualClock(T0), fields: { component: 'ztunnel' } });
    log.info('listener up', { port: 15008, addr: '127.0.0.1' });
    expect(sink.lines).toEqual([
      'time=2025-01-01T12:00:00.000Z level=info msg="listener up" component=ztunnel port=15008 addr=127.0.0.1',
    ]);
  });

  it('filters by level', () => {
    const sink = memorySink();
    const log = createLogger({ sink, level: 'warn' });
    log.debug('d');
    log.info('i');
    log.warn('w');
    log.error('e');
    expect(sink.lines.map((l) => parseKvLine(l).level)).toEqual(['warn', 'error']);
    expect(log.enabled('info')).toBe(false);
    expect(log.enabled('error')).toBe(true);
  });

  it('writes nothing when silent', () => {
    const sink = memorySink();
    const log = createLogger({ sink, level: 'silent' });
    log.error('e');
    expect(sink.lines).toEqual([]);
  });

  it('children add fields and share level and sink', () => {
    const sink = memorySink();
    const log = createLogger({ sink, clock: createManualClock(T0) })
      .child({ component: 'xds' })
      .child({ peer: 'node-1' });
    log.warn('nack', { type: 'weft.v1.Workload' });
    expect(parseKvLine(sink.lines[0] ?? '')).toEqual({
      time: '2025-01-01T12:00:00.000Z',
      level: 'warn',
      msg: 'nack',
      component: 'xds',
      peer: 'node-1',
      type: 'weft.v1.Workload',
    });
  });

  it('escapes hostile messages and field values, keeping one line', () => {
    const sink = memorySink();
    const log = createLogger({ sink, clock: createManualClock(T0) });
    log.error('bad header\nlevel=debug', { value: '"x"\r\ny=1', 'bad key': 1 });
    expect(sink.lines).toHaveLength(1);
    const fields = parseKvLine(sink.lines[0] ?? '');
    expect(fields.level).toBe('error');
    expect(fields.msg).toBe('bad header\nlevel=debug');
    expect(fields.value).toBe('"x"\r\ny=1');
    expect(fields.bad_key).toBe('1');
  });

  it('renders errors, objects, null; skips undefined; never lets fields override time/level/msg', () => {
    const sink = memorySink();
    const log = createLogger({ sink, clock: createManualClock(T0) });
    const err = Object.assign(new Error('connect refused'), { code: 'ECONNREFUSED' });
    log.error('upstream', {
      err,
      obj: { a: 1 },
      nothing: null,
      skipped: undefined,
      level: 'debug',
      big: 10n,
    });
    expect(parseKvLine(sink.lines[0] ?? '')).toEqual({
      time: '2025-01-01T12:00:00.000Z',
      level: 'error',
      msg: 'upstream',
      err: 'Error: connect refused (ECONNREFUSED)',
      obj: '{"a":1}',
      nothing: 'null',
      field_level: 'debug',
      big: '10',
    });
  });

  it('survives cyclic fields and throwing sinks', () => {
    const sink = memorySink();
    const log = createLogger({ sink, format: 'json' });
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    log.info('cyclic', { cyclic });
    expect(JSON.parse(sink.lines[0] ?? '')).toMatchObject({
      msg: 'cyclic',
      log_error: 'unrenderable_fields',
    });
    const throwing = createLogger({
      sink: {
        write() {
          throw new Error('disk full');
        },
      },
    });
    expect(() => throwing.error('x')).not.toThrow();
  });

  it('caps long values', () => {
    const sink = memorySink();
    const log = createLogger({ sink, maxValueLength: 8 });
    log.info('m', { path: '/a'.repeat(100) });
    expect(parseKvLine(sink.lines[0] ?? '').path).toBe('/a/a/a/a...');
  });
});

describe('createLogger (json)', () => {
  it('writes one JSON object per line', () => {
    const sink = memorySink();
    const log = createLogger({ sink, format: 'json', clock: createManualClock(T0) }).child({
      component: 'ca',
    });
    log.info('signed', { ttl: 86400, err: new TypeError('x') });
    expect(sink.lines).toHaveLength(1);
    expect(JSON.parse(sink.lines[0] ?? '')).toEqual({
      time: '2025-01-01T12:00:00.000Z',
      level: 'info',
      msg: 'signed',
      component: 'ca',
      ttl: 86400,
      err: { name: 'TypeError', message: 'x' },
    });
  });

  it('escapes control characters so a line stays a line', () => {
    const sink = memorySink();
    createLogger({ sink, format: 'json' }).info('a\nb', { v: '\r\n\u2028' });
    expect(sink.lines).toHaveLength(1);
    expect(sink.lines[0]).not.toMatch(/[\r\n]/);
    expect(JSON.parse(sink.lines[0] ?? '')).toMatchObject({ msg: 'a\nb', v: '\r\n\u2028' });
  });
});

describe('parseLogLevel', () => {
  it.each([
    ['debug', 'debug'],
    ['INFO', 'info'],
    [' warn ', 'warn'],
    ['warning', 'warn'],
    ['error', 'error'],
    ['silent', 'silent'],
    ['off', 'silent'],
    ['trace', 'debug'],
    ['verbose', undefined],
    ['', undefined],
    [undefined, undefined],
  ])('%j -> %j', (input, expected) => {
    expect(parseLogLevel(input)).toBe(expected);
  });
});

describe('noopLogger / fromPino', () => {
  it('noop does nothing and its child is itself', () => {
    expect(noopLogger.child({ a: 1 })).toBe(noopLogger);
    expect(noopLogger.enabled('error')).toBe(false);
  });

  it('adapts a pino-shaped logger', () => {
    const calls: unknown[][] = [];
    const fake = (bindings: Record<string, unknown>): PinoLike => ({
      debug: (o, m) => calls.push(['debug', { ...bindings, ...o }, m]),
      info: (o, m) => calls.push(['info', { ...bindings, ...o }, m]),
      warn: (o, m) => calls.push(['warn', { ...bindings, ...o }, m]),
      error: (o, m) => calls.push(['error', { ...bindings, ...o }, m]),
      child: (b) => fake({ ...bindings, ...b }),
      isLevelEnabled: (l) => l !== 'debug',
    });
    const log = fromPino(fake({})).child({ component: 'cni' });
    log.warn('netns gone', { pod: 'a' });
    expect(calls).toEqual([['warn', { component: 'cni', pod: 'a' }, 'netns gone']]);
    expect(log.enabled('debug')).toBe(false);
  });
});
