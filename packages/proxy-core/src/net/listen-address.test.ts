import { describe, expect, it } from 'vitest';
import { parseListenAddress } from './listen-address.ts';

describe('parseListenAddress', () => {
  it.each([
    ['127.0.0.1:15000', { host: '127.0.0.1', port: 15000 }],
    ['0.0.0.0:0', { host: '0.0.0.0', port: 0 }],
    ['[::1]:15008', { host: '::1', port: 15008 }],
    ['localhost:65535', { host: 'localhost', port: 65535 }],
  ])('%s', (text, value) => {
    expect(parseListenAddress(text)).toEqual({ ok: true, value });
  });

  it.each(['', '15000', ':15000', '127.0.0.1:', '127.0.0.1:65536', '127.0.0.1:-1', '127.0.0.1:1e3', '[]:80'])(
    '%j is refused, named',
    (text) => {
      const r = parseListenAddress(text);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.error).toContain('is not host:port');
    },
  );
});
