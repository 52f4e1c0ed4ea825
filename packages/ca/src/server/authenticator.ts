import type { CaError, Result } from '../errors.ts';
import { fail } from '../errors.ts';
import type { CallerIdentity } from '../identity.ts';

/**
 * Turns a bearer token into the caller's identity, or a typed error: `unauthenticated`
 * (reason `bad-token`) when the token is not accepted, `unavailable` (reason
 * `authenticator-unavailable`) when the authenticator could not decide (e.g. API server down).
 */
export interface Authenticator {
  readonly name: string;
  authenticate(token: string): Promise<Result<CallerIdentity>>;
}

export const MAX_TOKEN_BYTES = 16 * 1024;

/** Reads `authorization: Bearer <token>` from gRPC metadata values. */
export function bearerToken(values: readonly (string | Buffer)[]): Result<string> {
  if (values.length === 0) {
    return fail('unauthenticated', 'no-token', 'no "authorization: Bearer <token>" metadata');
  }
  if (values.length > 1)
    return fail('unauthenticated', 'bad-token', 'more than one authorization metadata value');
  const value = String(values[0]);
  if (value.length > MAX_TOKEN_BYTES) {
    return fail(
      'unauthenticated',
      'bad-token',
      `authorization metadata longer than ${MAX_TOKEN_BYTES} bytes`,
    );
  }
  const m = /^Bearer +(\S+)\s*$/i.exec(value);
  if (!m?.[1]) return fail('unauthenticated', 'bad-token', 'authorization metadata is not "Bearer <token>"');
  return { ok: true, value: m[1] };
}

/**
 * Tries each authenticator in order; the first that accepts wins. When none accepts, an
 * `unavailable` answer wins over `unauthenticated` (the caller should retry, not give up).
 */
export function chainAuthenticators(authenticators: readonly Authenticator[]): Authenticator {
  return {
    name: authenticators.map((a) => a.name).join('+'),
    async authenticate(token) {
      const errors: CaError[] = [];
      for (const a of authenticators) {
        const r = await a.authenticate(token);
        if (r.ok) return r;
        errors.push(r.error);
      }
      const unavailable = errors.find((e) => e.code === 'unavailable');
      if (unavailable) return { ok: false, error: unavailable };
      if (errors.length === 1 && errors[0]) return { ok: false, error: errors[0] };
      return fail(
        'unauthenticated',
        'bad-token',
        errors.length === 0 ? 'no authenticator configured' : errors.map((e) => e.message).join('; '),
      );
    },
  };
}
