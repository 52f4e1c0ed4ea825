// SPIFFE peer identity: the one `URI:spiffe://...` subject alternative name of a verified X.509
// certificate. TLS verifies the chain against the mesh trust bundle; this module decides who the
// peer is. Host names are never checked: in the mesh, a peer is its SPIFFE ID.

import type { SpiffeUri } from '@weft/policy';
import { parseSpiffeUri } from '@weft/policy/runtime';
import { clip } from './address.ts';

/** A SPIFFE ID, `spiffe://<trustDomain><path>`; the grammar is @weft/policy's. */
export type SpiffeId = SpiffeUri;

export type PeerIdentityErrorReason =
  /** The certificate has no `URI:spiffe://` SAN. */
  | 'no_spiffe_id'
  /** More than one `URI:spiffe://` SAN: ambiguous, refused. */
  | 'multiple_spiffe_ids'
  /** A `URI:spiffe://` SAN that breaks the SPIFFE ID rules. */
  | 'invalid_spiffe_id'
  /** Valid, but from a trust domain this side does not accept. */
  | 'foreign_trust_domain'
  /** Valid and trusted, but not the identity the caller expected. */
  | 'unexpected_identity';

export interface PeerIdentityError {
  readonly reason: PeerIdentityErrorReason;
  readonly message: string;
}

export type IdentityResult =
  | { readonly ok: true; readonly value: SpiffeId }
  | { readonly ok: false; readonly error: PeerIdentityError };

/** Parses a SPIFFE ID by the mesh's one grammar (@weft/policy); workload IDs need a non-empty path. */
export function parseSpiffeId(text: string): SpiffeId | undefined {
  const parsed = parseSpiffeUri(text);
  return parsed.ok ? parsed.value : undefined;
}

export interface SubjectAltName {
  /** `URI`, `DNS`, `IP Address`, `email`, ... as the runtime names them. */
  readonly type: string;
  readonly value: string;
}

/**
 * Splits a runtime's `subjectaltname` string ("DNS:a, URI:spiffe://td/x") into entries. Values
 * holding separators come JSON-quoted (Node does this since the CVE-2021-44532 fix), so quoted
 * values are decoded as a whole and a comma inside one never starts a new entry.
 */
export function parseSubjectAltNames(san: string): SubjectAltName[] | undefined {
  const out: SubjectAltName[] = [];
  let i = 0;
  while (i < san.length) {
    const colon = san.indexOf(':', i);
    if (colon < 0) return undefined;
    const type = san.slice(i, colon);
    if (!/^[A-Za-z][A-Za-z ]*$/.test(type)) return undefined;
    let j = colon + 1;
    let value: string;
    if (san[j] === '"') {
      let k = j + 1;
      while (k < san.length && san[k] !== '"') k += san[k] === '\\' ? 2 : 1;
      if (k >= san.length) return undefined;
      try {
        value = JSON.parse(san.slice(j, k + 1)) as string;
      } catch {
        return undefined;
      }
      j = k + 1;
    } else {
      const end = san.indexOf(', ', j);
      const stop = end < 0 ? san.length : end;
      value = san.slice(j, stop);
      j = stop;
    }
    out.push({ type, value });
    if (j >= san.length) break;
    if (!san.startsWith(', ', j)) return undefined;
    i = j + 2;
  }
  return out;
}

/**
 * The peer's SPIFFE ID from its certificate's `subjectaltname`: exactly one `URI:spiffe://` entry,
 * valid, and (when `trustDomains` is given) from one of those trust domains.
 */
export function spiffeIdFromSubjectAltName(
  san: string | undefined,
  trustDomains?: ReadonlySet<string>,
): IdentityResult {
  const entries = san === undefined || san === '' ? [] : parseSubjectAltNames(san);
  if (entries === undefined) {
    return err('invalid_spiffe_id', `subjectAltName "${clip(san ?? '')}" cannot be parsed`);
  }
  let found: string | undefined;
  let count = 0;
  for (const e of entries) {
    if (e.type === 'URI' && e.value.toLowerCase().startsWith('spiffe:')) {
      count++;
      found = e.value;
    }
  }
  if (count === 0 || found === undefined) return err('no_spiffe_id', 'certificate has no spiffe:// URI SAN');
  if (count > 1) return err('multiple_spiffe_ids', `certificate has ${count} spiffe:// URI SANs`);
  const parsed = parseSpiffeUri(found);
  if (!parsed.ok)
    return err('invalid_spiffe_id', `"${clip(found)}" is not a valid SPIFFE ID: ${parsed.message}`);
  const id = parsed.value;
  if (trustDomains !== undefined && !trustDomains.has(id.trustDomain)) {
    return err(
      'foreign_trust_domain',
      `peer ${clip(id.id)} is from trust domain "${id.trustDomain}", not ${[...trustDomains].join(', ')}`,
    );
  }
  return { ok: true, value: id };
}

/** Checks a verified peer ID against the identities the caller allows. */
export function checkExpectedIdentity(
  actual: SpiffeId,
  expected: ReadonlySet<string>,
): PeerIdentityError | undefined {
  if (expected.has(actual.id)) return undefined;
  return {
    reason: 'unexpected_identity',
    message: `peer is ${clip(actual.id)}, expected ${[...expected].map((e) => clip(e)).join(' or ')}`,
  };
}

function err(reason: PeerIdentityErrorReason, message: string): IdentityResult {
  return { ok: false, error: { reason, message } };
}
