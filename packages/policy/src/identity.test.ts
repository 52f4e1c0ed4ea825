import { describe, expect, it } from 'vitest';
import { parseSpiffeId, parseSpiffeUri, parseWorkloadId, spiffeId } from './identity.ts';

const long = (n: number) => `spiffe://td/${'a'.repeat(n - 'spiffe://td/'.length)}`;

// Every SPIFFE ID the mesh accepts: [text, trust domain, path].
const accepted: [string, string, string][] = [
  ['spiffe://cluster.local/ns/default/sa/web', 'cluster.local', '/ns/default/sa/web'],
  ['spiffe://td/x', 'td', '/x'],
  ['spiffe://a-b_c.d/A.b-C_9', 'a-b_c.d', '/A.b-C_9'],
  ['spiffe://td/ns/Upper_case.ok/sa/b-1', 'td', '/ns/Upper_case.ok/sa/b-1'],
  ['spiffe://td/...', 'td', '/...'],
  ['spiffe://td/.a/..b', 'td', '/.a/..b'],
  ['spiffe://0/1', '0', '/1'],
  [`spiffe://${'t'.repeat(255)}/x`, 't'.repeat(255), '/x'],
  [long(2048), 'td', long(2048).slice('spiffe://td'.length)],
];

// Every refusal names what is wrong: [text, what the message must say].
const refused: [string, RegExp][] = [
  // scheme and case
  ['', /does not start with spiffe:\/\//],
  ['SPIFFE://td/x', /does not start with spiffe:\/\//],
  ['Spiffe://td/x', /does not start with spiffe:\/\//],
  ['https://td/x', /does not start with spiffe:\/\//],
  ['spiffe:/td/x', /does not start with spiffe:\/\//],
  ['td/ns/a/sa/b', /does not start with spiffe:\/\//],
  [' spiffe://td/x', /does not start with spiffe:\/\//],
  ['spiffe://TD/x', /trust domain "TD" has "T"/],
  ['spiffe://Cluster.local/ns/a/sa/b', /trust domain "Cluster.local" has "C"/],
  // the authority: empty, port, userinfo, query, fragment, percent-encoding, IP literal
  ['spiffe://', /empty trust domain/],
  ['spiffe:///ns/a/sa/b', /empty trust domain/],
  ['spiffe://td:8080/x', /trust domain "td:8080" has ":"/],
  ['spiffe://user@td/x', /trust domain "user@td" has "@"/],
  ['spiffe://user:pw@td/x', /trust domain "user:pw@td" has ":"/],
  ['spiffe://td?q=1/x', /trust domain "td\?q=1" has "\?"/],
  ['spiffe://td#f/x', /trust domain "td#f" has "#"/],
  ['spiffe://t%64/x', /trust domain "t%64" has "%"/],
  ['spiffe://[::1]/x', /trust domain "\[::1\]" has "\["/],
  [`spiffe://${'t'.repeat(256)}/x`, /longer than 255/],
  // the path: missing, trailing slash, empty segments, dot segments
  ['spiffe://td', /has no path/],
  ['spiffe://td/', /empty segment/],
  ['spiffe://td/x/', /empty segment/],
  ['spiffe://td//x', /empty segment/],
  ['spiffe://td/ns//sa/b', /empty segment/],
  ['spiffe://td/.', /"\." segment/],
  ['spiffe://td/..', /"\.\." segment/],
  ['spiffe://td/ns/./sa/b', /"\." segment/],
  ['spiffe://td/ns/../sa/b', /"\.\." segment/],
  // the path: percent-encoding, query, fragment, port-like and userinfo-like text
  ['spiffe://td/ns/a%2F/sa/b', /path segment "a%2F" has "%"/],
  ['spiffe://td/%2e%2e', /has "%"/],
  ['spiffe://td/x?y=1', /path segment "x\?y=1" has "\?"/],
  ['spiffe://td/x?', /has "\?"/],
  ['spiffe://td/x#f', /path segment "x#f" has "#"/],
  ['spiffe://td/x#', /has "#"/],
  ['spiffe://td/x:80', /has ":"/],
  ['spiffe://td/u@x', /has "@"/],
  ['spiffe://td/a\\b', /has "\\"/],
  // whitespace and control characters
  ['spiffe://td/x ', /has U\+0020/],
  ['spiffe://td/ns/a b/sa/c', /has U\+0020/],
  ['spiffe://td/x\t', /has U\+0009/],
  ['spiffe://td/x\n', /has U\+000A/],
  ['spiffe://td/x\0', /has U\+0000/],
  ['spiffe://t d/x', /has U\+0020/],
  // unicode: look-alikes and non-ASCII letters are not normalised, they are refused
  ['spiffe://td/caf\u00e9', /has U\+00E9/],
  ['spiffe://t\u0131/x', /has U\+0131/],
  ['spiffe://xn--caf-dma/\u{1F600}', /has U\+1F600/],
  ['spiffe://td/\u212A', /has U\+212A/],
  ['spiffe://td/x\u200B', /has U\+200B/],
  // length
  [long(2049), /2049 characters, longer than 2048/],
];

describe('parseSpiffeUri', () => {
  it.each(accepted)('accepts %s', (text, trustDomain, path) => {
    expect(parseSpiffeUri(text)).toEqual({ ok: true, value: { id: text, trustDomain, path } });
  });

  it.each(refused)('refuses %j', (text, message) => {
    const r = parseSpiffeUri(text);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.message).toMatch(message);
  });

  it('clips untrusted text in its messages to printable ASCII', () => {
    const r = parseSpiffeUri(`spiffe://td/\u00e9${'a'.repeat(500)}/${'b'.repeat(500)}`);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.message.length).toBeLessThan(200);
      expect(r.message).toMatch(/^[\x20-\x7e]*$/);
    }
  });
});

describe('parseWorkloadId', () => {
  it('parses the workload form', () => {
    expect(parseWorkloadId('spiffe://td/ns/a/sa/b')).toEqual({
      ok: true,
      value: { trustDomain: 'td', namespace: 'a', serviceAccount: 'b' },
    });
    expect(parseWorkloadId('spiffe://td/ns/sa/sa/ns')).toEqual({
      ok: true,
      value: { trustDomain: 'td', namespace: 'sa', serviceAccount: 'ns' },
    });
  });

  it.each([
    'spiffe://td/x',
    'spiffe://td/ns/a',
    'spiffe://td/ns/a/sa',
    'spiffe://td/ns/a/sa/b/extra',
    'spiffe://td/x/a/sa/b',
    'spiffe://td/NS/a/sa/b',
    'spiffe://td/ns/a/SA/b',
    'spiffe://td/sa/b/ns/a',
  ])('refuses the valid non-workload ID %s', (text) => {
    expect(parseSpiffeUri(text).ok).toBe(true);
    expect(parseWorkloadId(text)).toEqual({
      ok: false,
      message: expect.stringMatching(/is not of the form/),
    });
  });

  it.each(refused)('refuses what parseSpiffeUri refuses, with its message: %j', (text) => {
    expect(parseWorkloadId(text)).toEqual(parseSpiffeUri(text));
  });
});

describe('parseSpiffeId (authorization principals)', () => {
  it('builds the id', () => {
    expect(spiffeId('cluster.local', 'a', 'b')).toBe('spiffe://cluster.local/ns/a/sa/b');
  });
  it('parses both the URI and the principal form', () => {
    expect(parseSpiffeId('spiffe://td/ns/a/sa/b')).toEqual({
      trustDomain: 'td',
      namespace: 'a',
      serviceAccount: 'b',
    });
    expect(parseSpiffeId('td/ns/a/sa/b')).toEqual({ trustDomain: 'td', namespace: 'a', serviceAccount: 'b' });
    expect(parseSpiffeId('spiffe://td/ns/a/sa/b/extra')).toBeUndefined();
    expect(parseSpiffeId('spiffe://td/x/a/sa/b')).toBeUndefined();
  });
  it('keeps to the one grammar in both forms', () => {
    for (const [text] of refused) {
      if (text === 'td/ns/a/sa/b') continue; // the principal form, refused only as a URI
      expect(parseSpiffeId(text), text).toBeUndefined();
      if (text.startsWith('spiffe://')) {
        expect(parseSpiffeId(text.slice('spiffe://'.length)), text).toBeUndefined();
      }
    }
    expect(parseSpiffeId('spiffe://spiffe://td/ns/a/sa/b')).toBeUndefined();
    expect(parseSpiffeId('/ns/a/sa/b')).toBeUndefined();
    expect(parseSpiffeId('spiffe://td/ns/Upper_case.ok/sa/b-1')?.namespace).toBe('Upper_case.ok');
  });
});
