// Explicit checks on an HTTP/1 request head, beyond node's parser. The parser (llhttp, strict
// mode) already refuses Content-Length with Transfer-Encoding and conflicting lengths on Node;
// other runtimes are more lenient (Bun accepts a repeated identical Content-Length), and no
// parser cares about a repeated Host. These checks make the outcome the same everywhere.
import type { RejectReason } from '../telemetry.ts';

export interface HeadProblem {
  readonly reason: RejectReason;
  readonly status: number;
  readonly message: string;
}

/** Looks at the raw header list ([name, value, name, value, ...]) once. */
export function checkRequestHead(
  rawHeaders: readonly string[],
  httpVersion: string,
): HeadProblem | undefined {
  let contentLength = 0;
  let transferEncoding = 0;
  let te = '';
  let host = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    // only names of the lengths we care about get lower-cased
    const n = name.length;
    if (n === 4) {
      if (name.toLowerCase() === 'host') host++;
    } else if (n === 14) {
      if (name.toLowerCase() === 'content-length') contentLength++;
    } else if (n === 17) {
      if (name.toLowerCase() === 'transfer-encoding') {
        transferEncoding++;
        te = (rawHeaders[i + 1] ?? '').trim().toLowerCase();
      }
    }
  }
  if (contentLength > 1)
    return { reason: 'request_smuggling', status: 400, message: 'repeated Content-Length' };
  if (transferEncoding > 0 && contentLength > 0)
    return { reason: 'request_smuggling', status: 400, message: 'Content-Length with Transfer-Encoding' };
  if (transferEncoding > 1 || (transferEncoding === 1 && te !== 'chunked'))
    return { reason: 'request_smuggling', status: 400, message: 'unsupported Transfer-Encoding' };
  if (host > 1) return { reason: 'invalid_host', status: 400, message: 'repeated Host' };
  if (host === 0)
    return {
      reason: 'invalid_host',
      status: 400,
      message: httpVersion === '1.0' ? 'missing Host (HTTP/1.0)' : 'missing Host',
    };
  return undefined;
}

/** Maps node's HTTP parser error codes to a status and reject reason. */
export function clientErrorReply(code: string | undefined): HeadProblem | undefined {
  switch (code) {
    case 'ECONNRESET':
    case 'EPIPE':
      return undefined;
    case 'HPE_HEADER_OVERFLOW':
      return { reason: 'header_too_large', status: 431, message: 'request header fields too large' };
    case 'HPE_INVALID_TRANSFER_ENCODING':
    case 'HPE_UNEXPECTED_CONTENT_LENGTH':
    case 'HPE_INVALID_CONTENT_LENGTH':
    case 'HPE_INVALID_CHUNK_SIZE':
      return { reason: 'request_smuggling', status: 400, message: 'invalid message framing' };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { reason: 'bad_request', status: 408, message: 'request timeout' };
    default:
      return { reason: 'bad_request', status: 400, message: 'bad request' };
  }
}

const REASONS: Readonly<Record<number, string>> = {
  101: 'Switching Protocols',
  200: 'OK',
  301: 'Moved Permanently',
  302: 'Found',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  500: 'Internal Server Error',
  504: 'Gateway Timeout',
  400: 'Bad Request',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  413: 'Payload Too Large',
  431: 'Request Header Fields Too Large',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
};

/** A complete HTTP/1.1 response that closes the connection, for raw sockets. */
export function rawResponse(status: number, body: string, extra = ''): string {
  return `HTTP/1.1 ${status} ${REASONS[status] ?? 'Error'}\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n${extra}\r\n${body}`;
}
