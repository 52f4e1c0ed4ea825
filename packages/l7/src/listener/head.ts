// What the HTTP/1.1 listener answers by itself: a refusal (status, reject reason, message) and
// the raw responses that carry it.
import { STATUS_CODES } from 'node:http';
import type { RejectReason } from '../telemetry.ts';

export interface HeadProblem {
  readonly reason: RejectReason;
  readonly status: number;
  readonly message: string;
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
  417: 'Expectation Failed',
  431: 'Request Header Fields Too Large',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
};

/** The reason phrase of a status line. */
export function reasonPhrase(status: number): string {
  return REASONS[status] ?? STATUS_CODES[status] ?? 'Unknown';
}

/** A complete HTTP/1.1 response that closes the connection, for raw sockets. */
export function rawResponse(status: number, body: string, extra = ''): string {
  return `HTTP/1.1 ${status} ${reasonPhrase(status)}\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n${extra}\r\n${body}`;
}
