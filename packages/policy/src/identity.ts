// SPIFFE IDs, the one grammar of the mesh: every package that reads a SPIFFE ID (CA, HBONE peer
// check, authorization, xDS conversion, proxies) parses it here, so no two of them can disagree
// on what an ID is. Workload IDs are spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>.

export function spiffeId(trustDomain: string, namespace: string, serviceAccount: string): string {
  return `spiffe://${trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
}

/** A parsed SPIFFE ID; `id` is exactly `spiffe://<trustDomain><path>`. */
export interface SpiffeUri {
  readonly id: string;
  readonly trustDomain: string;
  /** Starts with `/`, e.g. `/ns/default/sa/web`; never empty. */
  readonly path: string;
}

/** A workload's identity, from `spiffe://<trustDomain>/ns/<namespace>/sa/<serviceAccount>`. */
export interface SpiffeId {
  readonly trustDomain: string;
  readonly namespace: string;
  readonly serviceAccount: string;
}

export type SpiffeParseResult<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly message: string };

export const SPIFFE_SCHEME = 'spiffe://';
/** Longest accepted SPIFFE ID, the whole URI (the SPIFFE spec's limit for URI SANs). */
export const SPIFFE_ID_MAX_LENGTH = 2048;

// SPIFFE spec: a trust domain is lower-case letters, digits, ".", "-" and "_"; a path segment is
// letters, digits, ".", "-" and "_", and never "." or "..". Nothing is percent-decoded, so one ID
// has one spelling, and ports, userinfo, queries and fragments are refused by the character set.
const TRUST_DOMAIN = /^[a-z0-9._-]{1,255}$/;
const TRUST_DOMAIN_CHAR = /[a-z0-9._-]/;
const SEGMENT_CHAR = /[A-Za-z0-9._-]/;

export function isValidTrustDomain(trustDomain: string): boolean {
  return TRUST_DOMAIN.test(trustDomain);
}

/**
 * Parses any SPIFFE ID, `spiffe://<trust-domain>/<segment>(/<segment>)*`. The path must not be
 * empty: a trust domain's own ID (`spiffe://td`) never names a peer. The message names the part
 * that is wrong, with untrusted text clipped.
 */
export function parseSpiffeUri(text: string): SpiffeParseResult<SpiffeUri> {
  if (text.length > SPIFFE_ID_MAX_LENGTH) {
    return fail(`SPIFFE ID is ${text.length} characters, longer than ${SPIFFE_ID_MAX_LENGTH}`);
  }
  if (!text.startsWith(SPIFFE_SCHEME)) return fail(`"${clip(text)}" does not start with spiffe://`);
  const rest = text.slice(SPIFFE_SCHEME.length);
  const slash = rest.indexOf('/');
  const trustDomain = slash < 0 ? rest : rest.slice(0, slash);
  if (trustDomain === '') return fail(`"${clip(text)}" has an empty trust domain`);
  if (trustDomain.length > 255) return fail(`trust domain of "${clip(text)}" is longer than 255 characters`);
  const badTd = firstBad(trustDomain, TRUST_DOMAIN_CHAR);
  if (badTd !== undefined) {
    return fail(
      `trust domain "${clip(trustDomain)}" has ${badTd}; only a-z, 0-9, ".", "-" and "_" are allowed`,
    );
  }
  if (slash < 0) return fail(`"${clip(text)}" has no path`);
  const path = rest.slice(slash);
  for (const segment of path.slice(1).split('/')) {
    if (segment === '') return fail(`path of "${clip(text)}" has an empty segment`);
    if (segment === '.' || segment === '..')
      return fail(`path of "${clip(text)}" has a "${segment}" segment`);
    const bad = firstBad(segment, SEGMENT_CHAR);
    if (bad !== undefined) {
      return fail(
        `path segment "${clip(segment)}" has ${bad}; only A-Z, a-z, 0-9, ".", "-" and "_" are allowed`,
      );
    }
  }
  return { ok: true, value: { id: text, trustDomain, path } };
}

/** Parses a workload ID, `spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>`. */
export function parseWorkloadId(text: string): SpiffeParseResult<SpiffeId> {
  const uri = parseSpiffeUri(text);
  if (!uri.ok) return uri;
  const [ns, namespace, sa, serviceAccount, ...extra] = uri.value.path.slice(1).split('/');
  if (
    ns !== 'ns' ||
    sa !== 'sa' ||
    namespace === undefined ||
    serviceAccount === undefined ||
    extra.length > 0
  ) {
    return fail(
      `"${clip(text)}" is not of the form spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>`,
    );
  }
  return { ok: true, value: { trustDomain: uri.value.trustDomain, namespace, serviceAccount } };
}

/**
 * Parses a workload ID in either form authorization principals take: "spiffe://td/ns/x/sa/y" or
 * Istio's "td/ns/x/sa/y" (the same ID without the scheme). Undefined when it is neither.
 */
export function parseSpiffeId(id: string): SpiffeId | undefined {
  const parsed = parseWorkloadId(id.startsWith(SPIFFE_SCHEME) ? id : `${SPIFFE_SCHEME}${id}`);
  return parsed.ok ? parsed.value : undefined;
}

/** Shortens untrusted text before it goes into a message: printable ASCII, at most `max` chars. */
function clip(text: string, max = 80): string {
  const printable = text.replace(/[^\x20-\x7e]/g, '?');
  return printable.length > max ? `${printable.slice(0, max)}...` : printable;
}

function firstBad(text: string, allowed: RegExp): string | undefined {
  for (const ch of text) {
    if (allowed.test(ch)) continue;
    const code = ch.codePointAt(0) ?? 0;
    const hex = `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
    return code >= 0x21 && code <= 0x7e ? `"${ch}"` : hex;
  }
  return undefined;
}

function fail(message: string): { readonly ok: false; readonly message: string } {
  return { ok: false, message };
}
