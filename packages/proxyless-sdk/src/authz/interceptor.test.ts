import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { metadataHeaders, peerIdentity } from './interceptor.ts';

const cert = (subjectaltname: string): unknown => ({ subjectaltname, raw: Buffer.from('x') });

describe('peerIdentity', () => {
  const td = new Set(['cluster.local']);
  it.each([
    ['plaintext', {}, {}],
    ['TLS without a client certificate', { transportSecurityType: 'ssl' }, {}],
    [
      'one SPIFFE URI',
      {
        transportSecurityType: 'ssl',
        sslPeerCertificate: cert('URI:spiffe://cluster.local/ns/demo/sa/client'),
      },
      { principal: 'spiffe://cluster.local/ns/demo/sa/client' },
    ],
    [
      'SPIFFE URI beside DNS names',
      {
        transportSecurityType: 'ssl',
        sslPeerCertificate: cert('DNS:echo, URI:spiffe://cluster.local/ns/demo/sa/echo'),
      },
      { principal: 'spiffe://cluster.local/ns/demo/sa/echo' },
    ],
  ] as const)('%s', (_n, auth, expected) => {
    expect(peerIdentity(auth as never, td)).toEqual(expected);
  });

  it.each([
    ['no SPIFFE URI', 'DNS:echo.demo'],
    ['two SPIFFE URIs', 'URI:spiffe://cluster.local/ns/a/sa/b, URI:spiffe://cluster.local/ns/c/sa/d'],
    ['foreign trust domain', 'URI:spiffe://evil.example/ns/demo/sa/client'],
    ['malformed SPIFFE URI', 'URI:spiffe://cluster.local/ns/../sa/x'],
  ])('refuses a certificate with %s', (_n, san) => {
    const r = peerIdentity({ transportSecurityType: 'ssl', sslPeerCertificate: cert(san) } as never, td);
    expect(r.principal).toBeUndefined();
    expect(r.error).toBeTypeOf('string');
  });
});

describe('metadataHeaders', () => {
  it('keeps repeated keys as arrays and binary values as base64', () => {
    const md = new grpc.Metadata();
    md.add('x-user', 'admin');
    md.add('x-user', 'guest');
    md.set('x-one', ' padded ');
    md.set('trace-bin', Buffer.from([0, 1, 2, 255]));
    expect(metadataHeaders(md)).toEqual({
      'x-user': ['admin', 'guest'],
      'x-one': ' padded ',
      'trace-bin': Buffer.from([0, 1, 2, 255]).toString('base64'),
    });
  });
});
