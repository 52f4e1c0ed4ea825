// Protocol detection and the inbound protocol decision, pure: tested with tables.
import type { Target } from '@weft/proxy-core';

export const H2_PREFACE = 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n';

export type Sniffed = 'h2' | 'http1' | 'tcp' | 'more';

const MAX_METHOD = 20;

/**
 * Classifies the first bytes of a connection: the HTTP/2 client preface, an HTTP/1 request line
 * start ("TOKEN SP"), or anything else. `more` asks for more bytes.
 */
export function sniff(buf: Uint8Array): Sniffed {
  if (buf.length === 0) return 'more';
  // HTTP/2 preface, possibly incomplete
  let prefaceMatch = true;
  const n = Math.min(buf.length, H2_PREFACE.length);
  for (let i = 0; i < n; i++) {
    if (buf[i] !== H2_PREFACE.charCodeAt(i)) {
      prefaceMatch = false;
      break;
    }
  }
  if (prefaceMatch) return buf.length >= H2_PREFACE.length ? 'h2' : 'more';
  // HTTP/1 method token (upper-case letters, '-', '_') followed by a space
  for (let i = 0; i < buf.length && i <= MAX_METHOD; i++) {
    const c = buf[i] as number;
    if (c === 0x20) return i > 0 ? 'http1' : 'tcp';
    const upper = c >= 0x41 && c <= 0x5a;
    if (!upper && c !== 0x2d && c !== 0x5f) return 'tcp';
  }
  return buf.length > MAX_METHOD ? 'tcp' : 'more';
}

/** How a connection to a target is handled. */
export type InboundMode =
  /** HTTP for sure (declared); sniff only HTTP/1 vs HTTP/2. */
  | { readonly kind: 'http' }
  /** Unknown protocol: HTTP when it looks like it, else TCP passthrough. */
  | { readonly kind: 'sniff' }
  /** Opaque bytes: TCP passthrough with L4 authorization. */
  | { readonly kind: 'tcp' }
  | { readonly kind: 'refuse'; readonly reason: 'unknown_destination' };

export function decideInbound(target: Target): InboundMode {
  switch (target.kind) {
    case 'unknown':
      return { kind: 'refuse', reason: 'unknown_destination' };
    case 'workload':
      return { kind: 'sniff' };
    case 'service': {
      const p = target.port.appProtocol;
      if (p === 'http' || p === 'http2' || p === 'grpc' || p === 'grpc-web') return { kind: 'http' };
      if (target.routes !== undefined)
        return target.routes.protocol === 'tcp' ? { kind: 'tcp' } : { kind: 'http' };
      if (p === 'tcp') return { kind: 'sniff' };
      return { kind: 'tcp' };
    }
    default: {
      const never: never = target;
      return never;
    }
  }
}
