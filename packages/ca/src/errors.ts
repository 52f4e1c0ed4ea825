// Errors are values at the CA's boundaries: every rejection carries a status-like code, a
// reason (the metric label) and a message naming what was wrong.

/** Coarse class of a rejection; the gRPC layer maps it to a status code. */
export type CaErrorCode =
  | 'invalid-argument'
  | 'unauthenticated'
  | 'permission-denied'
  | 'unavailable'
  | 'resource-exhausted'
  | 'internal';

/** Why a request was rejected; also the label of the `rejected` counter. */
export type RejectReason =
  | 'no-token'
  | 'bad-token'
  | 'authenticator-unavailable'
  | 'csr-too-large'
  | 'csr-malformed'
  | 'csr-signature'
  | 'csr-key'
  | 'validity-out-of-range'
  | 'identity-invalid'
  | 'impersonation-denied'
  | 'foreign-trust-domain'
  | 'internal';

export const REJECT_REASONS: readonly RejectReason[] = [
  'no-token',
  'bad-token',
  'authenticator-unavailable',
  'csr-too-large',
  'csr-malformed',
  'csr-signature',
  'csr-key',
  'validity-out-of-range',
  'identity-invalid',
  'impersonation-denied',
  'foreign-trust-domain',
  'internal',
];

export interface CaError {
  readonly code: CaErrorCode;
  readonly reason: RejectReason;
  readonly message: string;
}

export type Result<T, E = CaError> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: E };

export function ok<T>(value: T): { ok: true; value: T } {
  return { ok: true, value };
}

export function fail(
  code: CaErrorCode,
  reason: RejectReason,
  message: string,
): { ok: false; error: CaError } {
  return { ok: false, error: { code, reason, message } };
}

/** Thrown at start-up when the CA's own configuration (keys, certificates, limits) is unusable. */
export class CaConfigError extends Error {
  readonly field: string;
  constructor(field: string, message: string) {
    super(`${field}: ${message}`);
    this.name = 'CaConfigError';
    this.field = field;
  }
}
