import { describe, expect, it } from 'vitest';
import { formatAuthority, formatForwardedFor, parseAuthority, parseForwardedFor } from './address.ts';

describe('parseAuthority', () => {
  it.each([
    ['10.0.0.1:8080', { ip: '10.0.0.1', port: 8080 }],
    ['127.0.0.1:1', { ip: '127.0.0.1', port: 1 }],
    ['1.2.3.4:65535', { ip: '1.2.3.4', port: 65535 }],
    ['[::1]:80', { ip: '::1', port: 80 }],
    ['[2001:DB8:0:0::1]:443', { ip: '2001:db8::1', port: 443 }],
    ['[::ffff:10.1.2.3]:80', { ip: '10.1.2.3', port: 80 }],
  ])('accepts %s', (text, want) => {
    expect(parseAuthority(text)).toEqual({ ok: true, value: want });
  });

  it.each([
    [undefined],
    [''],
    ['10.0.0.1'],
    ['10.0.0.1:'],
    ['10.0.0.1:0'],
    ['10.0.0.1:65536'],
    ['10.0.0.1:080'],
    ['10.0.0.1:+80'],
    ['10.0.0.1:80 '],
    ['10.0.0.1:8a'],
    ['010.0.0.1:80'],
    ['256.0.0.1:80'],
    ['10.0.1:80'],
    ['example.com:80'],
    ['localhost:80'],
    ['::1:80'],
    ['[::1]'],
    ['[::1]80'],
    ['[::1]:'],
    ['[10.0.0.1]:80'],
    ['[fe80::1%eth0]:80'],
    ['[::1]:80:81'],
    ['10.0.0.1:80/path'],
    ['user@10.0.0.1:80'],
    [`${'1'.repeat(70)}:80`],
  ])('rejects %s', (text) => {
    const r = parseAuthority(text);
    expect(r.ok).toBe(false);
  });

  it('formats IPv4 and bracketed IPv6', () => {
    expect(formatAuthority({ ip: '10.0.0.1', port: 80 })).toBe('10.0.0.1:80');
    expect(formatAuthority({ ip: '2001:db8::1', port: 80 })).toBe('[2001:db8::1]:80');
  });
});

describe('parseForwardedFor', () => {
  it.each([
    [undefined, undefined],
    ['for=192.0.2.43', '192.0.2.43'],
    ['For=192.0.2.43', '192.0.2.43'],
    ['for="192.0.2.43:4711"', '192.0.2.43'],
    ['for="[2001:db8:cafe::17]"', '2001:db8:cafe::17'],
    ['for="[2001:db8:cafe::17]:4711"', '2001:db8:cafe::17'],
    ['for=192.0.2.43;proto=http;by=203.0.113.43', '192.0.2.43'],
    ['for=192.0.2.43, for=198.51.100.17', '192.0.2.43'],
    ['for=unknown', undefined],
    ['for=_hidden', undefined],
    ['proto=https', undefined],
  ])('%s -> %s', (header, want) => {
    expect(parseForwardedFor(header)).toEqual({ ok: true, value: want });
  });

  it.each([
    ['for=2001:db8::1'],
    ['for=[2001:db8::1]'],
    ['for="[2001:db8::1"'],
    ['for="10.0.0.1'],
    ['for=example.com'],
    ['for=10.0.0.1;for=10.0.0.2'],
    ['for'],
    ['=10.0.0.1'],
    ['for=10.0.0.1;'],
    ['for="10.0.0.1\u0001"'],
    ['for=999.0.0.1'],
    ['for="[10.0.0.1]"'],
    ['for="10.0.0.1:http"'],
    ['x'.repeat(2000)],
  ])('rejects %s', (header) => {
    expect(parseForwardedFor(header).ok).toBe(false);
  });

  it('formats with quotes for IPv6 only, and parses back', () => {
    expect(formatForwardedFor('10.0.0.1')).toBe('for=10.0.0.1');
    expect(formatForwardedFor('2001:db8::1')).toBe('for="[2001:db8::1]"');
    for (const ip of ['10.0.0.1', '2001:db8::1']) {
      expect(parseForwardedFor(formatForwardedFor(ip))).toEqual({ ok: true, value: ip });
    }
  });
});
