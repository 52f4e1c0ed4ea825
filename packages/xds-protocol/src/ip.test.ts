import { describe, expect, it } from 'vitest';
import { bytesToIp, ipToBytes } from './ip.ts';

describe('ip text <-> bytes', () => {
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
  });
});
