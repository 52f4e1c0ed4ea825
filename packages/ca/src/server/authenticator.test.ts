import { describe, expect, it } from 'vitest';
import { fail, ok, type Result } from '../errors.ts';
import type { CallerIdentity } from '../identity.ts';
import { type Authenticator, chainAuthenticators } from './authenticator.ts';

const accept = (name: string): Authenticator => ({
  name,
  authenticate: async () => ok({ namespace: 'ns', serviceAccount: name }),
});
const reject = (name: string): Authenticator => ({
  name,
  authenticate: async () => fail('unauthenticated', 'bad-token', `${name} says no`),
});
const down = (name: string): Authenticator => ({
  name,
  authenticate: async () => fail('unavailable', 'authenticator-unavailable', `${name} is down`),
});

describe('chainAuthenticators', () => {
  it.each<[string, Authenticator[], (r: Result<CallerIdentity>) => unknown, unknown]>([
    [
      'first acceptance wins',
      [reject('a'), accept('b'), accept('c')],
      (r) => r.ok && r.value.serviceAccount,
      'b',
    ],
    [
      'all reject: messages joined',
      [reject('a'), reject('b')],
      (r) => !r.ok && r.error.message,
      'a says no; b says no',
    ],
    ['one rejects: its error', [reject('a')], (r) => !r.ok && r.error.message, 'a says no'],
    ['unavailable wins over reject', [reject('a'), down('b')], (r) => !r.ok && r.error.code, 'unavailable'],
    ['an acceptance wins over unavailable', [down('a'), accept('b')], (r) => r.ok, true],
    ['none configured', [], (r) => !r.ok && r.error.message, 'no authenticator configured'],
  ])('%s', async (_name, list, pick, expected) => {
    expect(pick(await chainAuthenticators(list).authenticate('t'))).toBe(expected);
  });
});
