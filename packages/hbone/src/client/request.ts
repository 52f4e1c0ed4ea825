// Decide-then-act for the outbound side: validate a connect request and build its pool key and
// CONNECT headers as plain values, before any socket is touched.
import {
  formatAuthority,
  formatForwardedFor,
  normalizeSocketAddress,
  parseIpLiteral,
  type SocketAddress,
} from '../address.ts';
import { parseSpiffeId } from '../spiffe.ts';
import type { HboneConnectRequest } from './types.ts';

export interface PlannedConnect {
  readonly via: SocketAddress;
  readonly dest: SocketAddress;
  readonly expected: ReadonlySet<string>;
  readonly sourceIdentity: string | undefined;
  /** Connections are shared by requests with the same key. */
  readonly poolKey: string;
  readonly headers: Readonly<Record<string, string>>;
}

// Connection-specific headers are forbidden in HTTP/2; the rest are ours to set.
const RESERVED_HEADERS = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'host',
  'te',
  'forwarded',
]);
const HEADER_NAME = /^[a-z0-9!#$%&'*+.^_`|~-]+$/;
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/**
 * The pool key: (source identity, destination identities, HBONE endpoint address). Streams to any
 * `dest` behind the same endpoint share one connection when both identities match.
 */
export function hbonePoolKey(
  sourceIdentity: string | undefined,
  expected: Iterable<string>,
  via: SocketAddress,
): string {
  return `${sourceIdentity ?? ''} ${[...expected].sort().join(',')} ${formatAuthority(via)}`;
}

export function planConnect(
  req: HboneConnectRequest,
): { ok: true; value: PlannedConnect } | { ok: false; field: string; message: string } {
  const via = normalizeSocketAddress(req.via);
  if (via === undefined) return { ok: false, field: 'via', message: 'via must be an IP address and port' };
  const dest = normalizeSocketAddress(req.dest);
  if (dest === undefined) return { ok: false, field: 'dest', message: 'dest must be an IP address and port' };
  const ids = typeof req.expectedIdentity === 'string' ? [req.expectedIdentity] : [...req.expectedIdentity];
  if (ids.length === 0)
    return { ok: false, field: 'expectedIdentity', message: 'at least one identity is needed' };
  for (const id of ids) {
    if (parseSpiffeId(id) === undefined) {
      return { ok: false, field: 'expectedIdentity', message: `"${id}" is not a SPIFFE ID` };
    }
  }
  const headers: Record<string, string> = {
    ':method': 'CONNECT',
    ':authority': formatAuthority(dest),
  };
  if (req.forwardedFor !== undefined) {
    const ip = parseIpLiteral(req.forwardedFor);
    if (ip === undefined)
      return { ok: false, field: 'forwardedFor', message: 'forwardedFor must be an IP address' };
    headers.forwarded = formatForwardedFor(ip);
  }
  for (const [name, value] of Object.entries(req.headers ?? {})) {
    if (!HEADER_NAME.test(name) || RESERVED_HEADERS.has(name)) {
      return { ok: false, field: `headers.${name}`, message: `header "${name}" cannot be set` };
    }
    if (!HEADER_VALUE.test(value)) {
      return { ok: false, field: `headers.${name}`, message: 'header value has control characters' };
    }
    headers[name] = value;
  }
  const expected = new Set(ids);
  return {
    ok: true,
    value: {
      via,
      dest,
      expected,
      sourceIdentity: req.sourceIdentity,
      poolKey: hbonePoolKey(req.sourceIdentity, expected, via),
      headers,
    },
  };
}
