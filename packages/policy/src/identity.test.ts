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
});
