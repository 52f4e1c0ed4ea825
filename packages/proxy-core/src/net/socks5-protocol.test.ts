import { describe, expect, it } from 'vitest';
import { parseGreeting, parseRequest, REPLY, reply } from './socks5-protocol.ts';

const hex = (b: Buffer | undefined) => (b === undefined ? '-' : b.toString('hex'));

describe('parseGreeting', () => {
  it.each([
    { name: 'empty', bytes: [], out: 'more' },
    { name: 'version only', bytes: [5], out: 'more' },
    { name: 'methods missing', bytes: [5, 2, 0], out: 'more' },
    { name: 'no-auth offered', bytes: [5, 1, 0], out: 'ok 3' },
    { name: 'no-auth among others', bytes: [5, 3, 2, 1, 0], out: 'ok 5' },
    { name: 'only user/password', bytes: [5, 1, 2], out: 'error no-acceptable-method 05ff' },
    { name: 'zero methods', bytes: [5, 0], out: 'error no-acceptable-method 05ff' },
    { name: 'SOCKS4', bytes: [4, 1, 0, 80], out: 'error bad-version -' },
    { name: 'HTTP', bytes: [...Buffer.from('GET / HTTP/1.1')], out: 'error bad-version -' },
  ])('$name', ({ bytes, out }) => {
    const r = parseGreeting(Uint8Array.from(bytes));
    const text =
      r.status === 'more'
        ? 'more'
        : r.status === 'ok'
          ? `ok ${r.consumed}`
          : `error ${r.error} ${hex(r.reply)}`;
    expect(text).toBe(out);
  });
});

const req = (cmd: number, atyp: number, addr: number[], port: number) => [
  5,
  cmd,
  0,
  atyp,
  ...addr,
  port >> 8,
  port & 0xff,
];

describe('parseRequest', () => {
  it.each([
    { name: 'IPv4 CONNECT', bytes: req(1, 1, [127, 0, 1, 10], 8080), out: 'ok address 127.0.1.10:8080 10' },
    {
      name: 'IPv6 CONNECT',
      bytes: req(1, 4, [0x20, 0x01, 0x0d, 0xb8, ...new Array(11).fill(0), 1], 443),
      out: 'ok address 2001:db8::1:443 22',
    },
    {
      name: 'DOMAINNAME CONNECT',
      bytes: req(1, 3, [11, ...Buffer.from('echo.demo.x')], 80),
      out: 'ok hostname echo.demo.x:80 18',
    },
    { name: 'partial address', bytes: req(1, 1, [127, 0, 1, 10], 8080).slice(0, 7), out: 'more' },
    { name: 'partial header', bytes: [5, 1], out: 'more' },
    {
      name: 'BIND refused',
      bytes: req(2, 1, [127, 0, 0, 1], 80),
      out: 'error command-not-supported 05070001000000000000',
    },
    {
      name: 'UDP ASSOCIATE refused',
      bytes: req(3, 1, [0, 0, 0, 0], 0),
      out: 'error command-not-supported 05070001000000000000',
    },
    {
      name: 'unknown command refused',
      bytes: req(9, 1, [0, 0, 0, 0], 1),
      out: 'error command-not-supported 05070001000000000000',
    },
    {
      name: 'unknown address type',
      bytes: [5, 1, 0, 7, 1, 2],
      out: 'error address-type-not-supported 05080001000000000000',
    },
    {
      name: 'reserved byte set',
      bytes: [5, 1, 1, 1, 1, 2, 3, 4, 0, 80],
      out: 'error bad-reserved 05010001000000000000',
    },
    {
      name: 'empty domain',
      bytes: [5, 1, 0, 3, 0, 0, 80],
      out: 'error bad-domain-name 05040001000000000000',
    },
    {
      name: 'domain with control characters',
      bytes: req(1, 3, [5, ...Buffer.from('a\nb c')], 80),
      out: 'error bad-domain-name 05040001000000000000',
    },
    { name: 'port zero', bytes: req(1, 1, [127, 0, 0, 1], 0), out: 'error bad-port 05040001000000000000' },
    { name: 'wrong version', bytes: [4, 1, 0, 1], out: 'error bad-version -' },
  ])('$name', ({ bytes, out }) => {
    const r = parseRequest(Uint8Array.from(bytes));
    let text: string;
    if (r.status === 'more') text = 'more';
    else if (r.status === 'error') text = `error ${r.error} ${hex(r.reply)}`;
    else {
      const t = r.value.target;
      text = `ok ${t.kind} ${t.kind === 'address' ? t.ip : t.hostname}:${t.port} ${r.consumed}`;
    }
    expect(text).toBe(out);
  });
});

describe('reply', () => {
  it.each([
    { code: REPLY.succeeded, bound: undefined, out: '05000001000000000000' },
    { code: REPLY.succeeded, bound: { ip: '127.0.2.1', port: 15080 }, out: '050000017f0002013ae8' },
    {
      code: REPLY.notAllowed,
      bound: { ip: '::1', port: 1 },
      out: '0502000400000000000000000000000000000001' + '0001',
    },
    {
      code: REPLY.hostUnreachable,
      bound: { ip: '2001:db8::', port: 2 },
      out: '0504000420010db8000000000000000000000000' + '0002',
    },
  ])('$code $bound', ({ code, bound, out }) => {
    expect(reply(code, bound).toString('hex')).toBe(out);
  });
});
