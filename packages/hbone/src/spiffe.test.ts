import { describe, expect, it } from 'vitest';
import {
  checkExpectedIdentity,
  parseSpiffeId,
  parseSubjectAltNames,
  spiffeIdFromSubjectAltName,
} from './spiffe.ts';

describe('parseSpiffeId', () => {
  it.each([
    ['spiffe://cluster.local/ns/default/sa/web', 'cluster.local', '/ns/default/sa/web'],
    ['spiffe://td/x', 'td', '/x'],
    ['spiffe://a-b_c.d/A.b-C_9', 'a-b_c.d', '/A.b-C_9'],
  ])('accepts %s', (id, trustDomain, path) => {
    expect(parseSpiffeId(id)).toEqual({ id, trustDomain, path });
  });

  it.each([
    'spiffe://cluster.local',
    'spiffe://cluster.local/',
    'spiffe://cluster.local/ns//sa/x',
    'spiffe://cluster.local/ns/a/',
    'spiffe://cluster.local/ns/./sa',
    'spiffe://cluster.local/ns/../sa',
    'spiffe://Cluster.local/ns/a',
    'spiffe://cluster.local:8080/ns/a',
    'spiffe://user@cluster.local/ns/a',
    'spiffe://cluster.local/ns/a?x=1',
    'spiffe://cluster.local/ns/a#f',
    'spiffe://cluster.local/ns/a%2Fb',
    'SPIFFE://cluster.local/ns/a',
    'https://cluster.local/ns/a',
    'spiffe:///ns/a',
    `spiffe://td/${'a'.repeat(2100)}`,
  ])('rejects %s', (id) => {
    expect(parseSpiffeId(id)).toBeUndefined();
  });
});

describe('parseSubjectAltNames', () => {
  it('splits entries and decodes quoted values as a whole', () => {
    expect(parseSubjectAltNames('DNS:a.example, URI:spiffe://td/x, IP Address:10.0.0.1')).toEqual([
      { type: 'DNS', value: 'a.example' },
      { type: 'URI', value: 'spiffe://td/x' },
      { type: 'IP Address', value: '10.0.0.1' },
    ]);
    expect(parseSubjectAltNames('URI:"spiffe://td/a, URI:spiffe://td/b", DNS:x')).toEqual([
      { type: 'URI', value: 'spiffe://td/a, URI:spiffe://td/b' },
      { type: 'DNS', value: 'x' },
    ]);
  });

  it.each(['URI', 'URI:"unterminated', 'URI:"x"junk', ', URI:x', '9:x'])('rejects %s', (san) => {
    expect(parseSubjectAltNames(san)).toBeUndefined();
  });
});

describe('spiffeIdFromSubjectAltName', () => {
  const td = new Set(['cluster.local']);
  it.each([
    ['URI:spiffe://cluster.local/ns/a/sa/b', 'ok'],
    ['DNS:x, URI:spiffe://cluster.local/ns/a/sa/b, URI:https://example.com', 'ok'],
    [undefined, 'no_spiffe_id'],
    ['', 'no_spiffe_id'],
    ['DNS:spiffe://cluster.local/ns/a/sa/b', 'no_spiffe_id'],
    ['URI:https://cluster.local/ns/a', 'no_spiffe_id'],
    ['URI:spiffe://cluster.local/ns/a/sa/b, URI:spiffe://cluster.local/ns/c/sa/d', 'multiple_spiffe_ids'],
    ['URI:spiffe://cluster.local/ns/a/sa/b, URI:SPIFFE://cluster.local/ns/c/sa/d', 'multiple_spiffe_ids'],
    ['URI:"spiffe://cluster.local/ns/a, URI:spiffe://cluster.local/ns/b"', 'invalid_spiffe_id'],
    ['URI:spiffe://cluster.local/', 'invalid_spiffe_id'],
    ['URI:"broken', 'invalid_spiffe_id'],
    ['URI:spiffe://evil.local/ns/a/sa/b', 'foreign_trust_domain'],
  ])('%s -> %s', (san, want) => {
    const r = spiffeIdFromSubjectAltName(san, td);
    expect(r.ok ? 'ok' : r.error.reason).toBe(want);
  });

  it('says what is wrong with an invalid ID, in the grammar @weft/policy names', () => {
    const r = spiffeIdFromSubjectAltName('URI:spiffe://cluster.local/ns/a%2F/sa/b', td);
    expect(r.ok ? '' : r.error.message).toMatch(/ns\/a%2F\/sa\/b" is not a valid SPIFFE ID: .*has "%"/);
  });

  it('accepts any trust domain when none is given', () => {
    expect(spiffeIdFromSubjectAltName('URI:spiffe://evil.local/ns/a/sa/b').ok).toBe(true);
  });

  it('checks the expected identities', () => {
    const id = parseSpiffeId('spiffe://cluster.local/ns/a/sa/b');
    if (id === undefined) throw new Error('unreachable');
    expect(checkExpectedIdentity(id, new Set(['spiffe://cluster.local/ns/a/sa/b']))).toBeUndefined();
    expect(checkExpectedIdentity(id, new Set(['spiffe://cluster.local/ns/a/sa/c']))?.reason).toBe(
      'unexpected_identity',
    );
  });
});
