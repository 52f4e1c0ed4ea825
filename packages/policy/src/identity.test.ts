import { describe, expect, it } from 'vitest';
import { parseSpiffeId, spiffeId } from './identity.ts';

describe('spiffeId', () => {
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
  it('keeps to the SPIFFE grammar', () => {
    for (const bad of [
      'spiffe://TD/ns/a/sa/b',
      'spiffe://td/ns/a b/sa/b',
      'spiffe://td/ns/a/sa/b?x',
      'spiffe://td/ns/#/sa/:',
      'spiffe://td/ns/../sa/b',
      'spiffe://td/ns/a%2F/sa/b',
    ])
      expect(parseSpiffeId(bad), bad).toBeUndefined();
    expect(parseSpiffeId('spiffe://td/ns/Upper_case.ok/sa/b-1')?.namespace).toBe('Upper_case.ok');
  });
});
