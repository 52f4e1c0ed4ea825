import { describe, expect, it } from 'vitest';
import { bytesToIp, cidrContains, formatCidr, ipToBytes, normalizeIp, parseCidr, parseIp } from './ip.ts';

describe('parseIp', () => {
  it.each([
    ['10.1.2.3', '10.1.2.3'],
    ['0.0.0.0', '0.0.0.0'],
    ['::1', '::1'],
    ['2001:DB8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['::ffff:10.0.0.1', '10.0.0.1'],
    ['[fe80::1%eth0]', 'fe80::1'],
    ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
    ['64:ff9b::1.2.3.4', '64:ff9b::102:304'],
  ])('%s -> %s', (input, out) => {
    expect(normalizeIp(input)).toBe(out);
  });

  it.each([
    '010.0.0.1',
    '1.2.3',
    '256.1.1.1',
    '127.1',
    '0x7f.0.0.1',
    ':::',
    '1::2::3',
    '1:2:3:4:5:6:7:8:9',
    '',
    'g::1',
  ])('rejects %j', (input) => {
    expect(parseIp(input)).toBeUndefined();
  });
});

describe('cidrContains', () => {
  const table: [string, string, boolean][] = [
    ['10.0.0.0/8', '10.200.3.4', true],
    ['10.0.0.0/8', '11.0.0.1', false],
    ['10.1.2.3', '10.1.2.3', true],
    ['10.1.2.3', '10.1.2.4', false],
    ['0.0.0.0/0', '192.168.1.1', true],
    ['0.0.0.0/0', '::1', false],
    ['192.168.1.128/25', '192.168.1.200', true],
    ['192.168.1.128/25', '192.168.1.100', false],
    ['2001:db8::/32', '2001:db8:ffff::1', true],
    ['2001:db8::/32', '2001:db9::1', false],
    ['fd00::/8', 'fdff:1::2', true],
    ['::/0', '2001:db8::1', true],
    ['::/0', '10.0.0.1', false],
    ['2001:db8::1/128', '2001:db8::1', true],
    ['2001:db8::1/128', '2001:db8::2', false],
    ['2001:db8::/33', '2001:db8:8000::1', false],
    // dual-stack sockets report IPv4 peers as mapped IPv6
    ['10.0.0.0/8', '::ffff:10.9.9.9', true],
    ['::ffff:10.0.0.0/104', '10.3.3.3', true],
  ];
  it.each(table)('%s contains %s: %s', (block, ip, expected) => {
    const cidr = parseCidr(block);
    const addr = parseIp(ip);
    expect(cidr).toBeDefined();
    expect(addr).toBeDefined();
    if (cidr && addr) expect(cidrContains(cidr, addr)).toBe(expected);
  });

  it('canonicalises blocks with host bits set', () => {
    const cidr = parseCidr('10.1.2.3/8');
    expect(cidr && formatCidr(cidr)).toBe('10.0.0.0/8');
  });

  it.each(['10.0.0.0/33', '10.0.0.0/', '::/129', '10.0.0.0/08', 'x/8'])('rejects block %j', (block) => {
    expect(parseCidr(block)).toBeUndefined();
  });
});

// The wire form (xDS addresses): bare literals only, IPv4-mapped addresses kept as 16 bytes.
describe('ipToBytes / bytesToIp', () => {
  it.each([
    ['10.0.0.1', [10, 0, 0, 1]],
    ['255.255.255.255', [255, 255, 255, 255]],
    ['::1', [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]],
    ['fd00::a:1', [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0a, 0, 1]],
    ['::ffff:10.1.2.3', [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3]],
    ['1:2:3:4:5:6:7:8', [0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 8]],
  ])('%s', (text, raw) => {
    expect([...(ipToBytes(text) ?? [])]).toEqual(raw);
  });

  it.each([
    '',
    '10.0.0',
    '10.0.0.256',
    '010.0.0.1',
    '1.2.3.4.5',
    ':::',
    '1::2::3',
    'fe80::1%eth0',
    '[::1]',
    'g::1',
    'a:b:c:d:e:f:1:2:3',
    'host',
  ])('rejects %j', (text) => {
    expect(ipToBytes(text)).toBeUndefined();
  });

  it.each(['10.0.0.1', '::', '::1', 'fd00::a:1', '1:0:0:2::3', '1:2:3:4:5:6:7:8', '2001:db8::1:0:0:1'])(
    'round-trips %s in canonical form',
    (text) => {
      expect(bytesToIp(ipToBytes(text) as Uint8Array)).toBe(text);
    },
  );

  it('refuses lengths other than 4 and 16', () => {
    expect(bytesToIp(new Uint8Array(5))).toBeUndefined();
    expect(bytesToIp(new Uint8Array(0))).toBeUndefined();
  });
});
