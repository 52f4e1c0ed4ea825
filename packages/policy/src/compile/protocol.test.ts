import { describe, expect, it } from 'vitest';
import { inferAppProtocol } from './protocol.ts';

describe('inferAppProtocol', () => {
  it.each([
    [{ name: 'http' }, 'http'],
    [{ name: 'http-web' }, 'http'],
    [{ name: 'http2-api' }, 'http2'],
    [{ name: 'grpc' }, 'grpc'],
    [{ name: 'grpc-web' }, 'grpc-web'],
    [{ name: 'https-admin' }, 'https'],
    [{ name: 'tls' }, 'tls'],
    [{ name: 'tcp-db' }, 'tcp'],
    [{ name: 'web' }, 'tcp'],
    [{ name: 'httpfoo' }, 'tcp'],
    [{}, 'tcp'],
    [{ name: 'web', appProtocol: 'http' }, 'http'],
    [{ name: 'http', appProtocol: 'kubernetes.io/h2c' }, 'http2'],
    [{ name: 'grpc', appProtocol: 'custom.example/x' }, 'grpc'],
    [{ name: 'http', protocol: 'UDP' }, 'udp'],
    [{ name: 'dns', protocol: 'UDP' }, 'udp'],
  ] as const)('%j -> %s', (port, expected) => {
    expect(inferAppProtocol(port)).toBe(expected);
  });
});
