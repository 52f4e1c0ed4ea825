// Replies the proxy makes itself (denials, timeouts, no route, overflow). gRPC callers get a
// trailers-only gRPC response (HTTP 200 + grpc-status), as Envoy does, so their client library
// reports a status rather than a protocol error.
import type { ResponseFlag } from '@weft/telemetry';
import { bytesBody } from './body.ts';
import type { L7Request, L7Response } from './message.ts';

/** gRPC status codes used by local replies. */
export const GRPC = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

/** HTTP status -> gRPC status (gRPC's HTTP mapping, as Envoy applies it to local replies). */
export function grpcStatusForHttp(status: number): number {
  switch (status) {
    case 400:
      return GRPC.INTERNAL;
    case 401:
      return GRPC.UNAUTHENTICATED;
    case 403:
      return GRPC.PERMISSION_DENIED;
    case 404:
      return GRPC.UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504:
      return GRPC.UNAVAILABLE;
    default:
      return status >= 200 && status < 300 ? GRPC.OK : GRPC.UNKNOWN;
  }
}

export interface LocalReplyOptions {
  readonly flags?: readonly ResponseFlag[];
  /** gRPC status to send instead of the mapped one. */
  readonly grpcStatus?: number;
  readonly headers?: Readonly<Record<string, string>>;
}

/** Percent-encodes a grpc-message value (gRPC spec: printable ASCII except '%'). */
export function encodeGrpcMessage(message: string): string {
  let out = '';
  for (const byte of Buffer.from(message, 'utf8')) {
    out +=
      byte >= 0x20 && byte <= 0x7e && byte !== 0x25
        ? String.fromCharCode(byte)
        : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

export function localReply(
  req: L7Request,
  status: number,
  message: string,
  opts: LocalReplyOptions = {},
): L7Response {
  if (opts.flags) for (const f of opts.flags) if (!req.ctx.flags.includes(f)) req.ctx.flags.push(f);
  if (req.ctx.grpc) {
    const grpcStatus = opts.grpcStatus ?? grpcStatusForHttp(status);
    return {
      status: 200,
      headers: {
        'content-type': 'application/grpc',
        'grpc-status': String(grpcStatus),
        'grpc-message': encodeGrpcMessage(message),
        ...opts.headers,
      },
      body: { kind: 'empty' },
      grpcStatus,
    };
  }
  const body = bytesBody(message);
  return {
    status,
    headers: {
      'content-type': 'text/plain; charset=utf-8',
      'content-length': String(body.length),
      ...opts.headers,
    },
    body,
  };
}
