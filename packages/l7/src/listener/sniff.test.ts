import { describe, expect, it } from 'vitest';
import { SHOP, serviceWith } from '../test-support/mesh.ts';
import { stateOf } from '../test-support/requests.ts';
import { decideInbound, sniff } from './sniff.ts';

describe('sniff', () => {
  it.each([
    ['PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'h2'],
    ['PRI * HTTP/2.0\r\n', 'more'],
    ['GET / HTTP/1.1\r\n', 'http1'],
    ['POST /x', 'http1'],
    ['M-SEARCH * HTTP/1.1', 'http1'],
    ['GE', 'more'],
    ['', 'more'],
    ['\x16\x03\x01\x02\x00', 'tcp'],
    ['SSH-2.0-OpenSSH', 'tcp'],
    [' GET /', 'tcp'],
    ['get / HTTP/1.1', 'tcp'],
    ['ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'tcp'],
  ])('%j -> %s', (text, expected) => {
    expect(sniff(Buffer.from(text, 'latin1'))).toBe(expected);
  });
});

describe('decideInbound', () => {
  const state = stateOf([
    ...SHOP,
    ...serviceWith([{ name: 'h-1', ip: '10.1.0.1', port: 8080 }], { name: 'h', vip: '10.96.0.1' }),
    ...serviceWith([{ name: 'g-1', ip: '10.1.0.2', port: 8080 }], {
      name: 'g',
      vip: '10.96.0.2',
      appProtocol: 'grpc',
    }),
    ...serviceWith([{ name: 't-1', ip: '10.1.0.3', port: 8080 }], {
      name: 't',
      vip: '10.96.0.3',
      appProtocol: 'tcp',
    }),
    ...serviceWith([{ name: 's-1', ip: '10.1.0.4', port: 8080 }], {
      name: 's',
      vip: '10.96.0.4',
      appProtocol: 'https',
    }),
  ]);
  it.each([
    ['10.96.0.1', 80, 'http'],
    ['10.96.0.2', 80, 'http'],
    ['10.96.0.3', 80, 'sniff'],
    ['10.96.0.4', 80, 'tcp'],
    ['10.1.0.1', 8080, 'sniff'],
    ['10.96.0.1', 81, 'refuse'],
    ['192.0.2.1', 80, 'refuse'],
  ])('%s:%i -> %s', (ip, port, kind) => {
    expect(decideInbound(state.target(ip, port)).kind).toBe(kind);
  });
});
