import { describe, expect, it } from 'vitest';
import { spiffeId } from './identity.ts';

describe('spiffeId', () => {
  it('builds the id', () => {
    expect(spiffeId('cluster.local', 'a', 'b')).toBe('spiffe://cluster.local/ns/a/sa/b');
  });
});
