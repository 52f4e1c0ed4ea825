import { describe, expect, it } from 'vitest';
import { parseForward } from './forward-flag.ts';

describe('parseForward', () => {
  it.each([
    [
      '18080=127.0.10.2>echo.demo.svc.cluster.local:8080',
      {
        port: 18080,
        sourceIp: '127.0.10.2',
        target: { kind: 'hostname', hostname: 'echo.demo.svc.cluster.local', port: 8080 },
      },
    ],
    [
      '9000=127.0.10.2>127.0.20.1:8080',
      { port: 9000, sourceIp: '127.0.10.2', target: { kind: 'address', ip: '127.0.20.1', port: 8080 } },
    ],
    [
      '9000=127.0.10.2>[::1]:80',
      { port: 9000, sourceIp: '127.0.10.2', target: { kind: 'address', ip: '::1', port: 80 } },
    ],
  ])('accepts %s', (spec, want) => {
    expect(parseForward(spec)).toEqual({ ok: true, value: want });
  });

  it.each([
    ['', 'expected'],
    ['0=127.0.10.2>a:1', 'listen port'],
    ['70000=127.0.10.2>a:1', 'listen port'],
    ['80=not-an-ip>a:1', 'source'],
    ['80=127.0.10.2>a:0', 'target port'],
    ['80=127.0.10.2>bad_host!:80', 'target host'],
  ])('rejects %j naming the part (%s)', (spec, part) => {
    const r = parseForward(spec);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toContain(part);
  });
});
