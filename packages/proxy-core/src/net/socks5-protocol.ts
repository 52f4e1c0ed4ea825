// SOCKS5 (RFC 1928) wire format, pure: the greeting, the request, and the replies. Only the
// CONNECT command with the no-authentication method is served; BIND and UDP ASSOCIATE are
// refused with "command not supported". Parsers take the bytes received so far and say whether
// they need more, so the socket code can bound the handshake's size and time.
import { bytesToIp, ipToBytes, normalizeIp } from '@weft/policy/runtime';
import type { OutboundTarget } from '../decide/outbound.ts';

export const SOCKS_VERSION = 0x05;
export const METHOD_NO_AUTH = 0x00;
export const METHOD_NONE_ACCEPTABLE = 0xff;

export const CMD_CONNECT = 0x01;
export const CMD_BIND = 0x02;
export const CMD_UDP_ASSOCIATE = 0x03;

export const ATYP_IPV4 = 0x01;
export const ATYP_DOMAINNAME = 0x03;
export const ATYP_IPV6 = 0x04;

/** RFC 1928 section 6 reply codes. */
export const REPLY = {
  succeeded: 0x00,
  generalFailure: 0x01,
  notAllowed: 0x02,
  networkUnreachable: 0x03,
  hostUnreachable: 0x04,
  connectionRefused: 0x05,
  ttlExpired: 0x06,
  commandNotSupported: 0x07,
  addressTypeNotSupported: 0x08,
} as const;

export type ReplyCode = (typeof REPLY)[keyof typeof REPLY];

/** Longest greeting (VER, NMETHODS, 255 methods) and request (DOMAINNAME of 255 bytes). */
export const MAX_GREETING_BYTES = 2 + 255;
export const MAX_REQUEST_BYTES = 4 + 1 + 255 + 2;

export type Socks5Error =
  | 'bad-version'
  | 'no-acceptable-method'
  | 'bad-reserved'
  | 'command-not-supported'
  | 'address-type-not-supported'
  | 'bad-domain-name'
  | 'bad-port';

export type ParseResult<T> =
  | { readonly status: 'more' }
  | { readonly status: 'ok'; readonly value: T; readonly consumed: number }
  | {
      readonly status: 'error';
      readonly error: Socks5Error;
      readonly message: string;
      readonly reply?: Buffer;
    };

function error<T>(err: Socks5Error, message: string, reply?: Buffer): ParseResult<T> {
  return { status: 'error', error: err, message, ...(reply !== undefined ? { reply } : {}) };
}

/** The client's greeting: VER NMETHODS METHODS. Ok when it offers no-authentication. */
export function parseGreeting(buf: Uint8Array): ParseResult<{ readonly methods: readonly number[] }> {
  if (buf.length < 1) return { status: 'more' };
  if (buf[0] !== SOCKS_VERSION) return error('bad-version', `version ${buf[0]} is not SOCKS5`);
  if (buf.length < 2) return { status: 'more' };
  const n = buf[1] as number;
  if (buf.length < 2 + n) return { status: 'more' };
  const methods = Array.from(buf.subarray(2, 2 + n));
  if (!methods.includes(METHOD_NO_AUTH)) {
    return error(
      'no-acceptable-method',
      `client offers methods [${methods.join(', ')}], not no-authentication`,
      Buffer.from([SOCKS_VERSION, METHOD_NONE_ACCEPTABLE]),
    );
  }
  return { status: 'ok', value: { methods }, consumed: 2 + n };
}

export function methodSelection(method: number = METHOD_NO_AUTH): Buffer {
  return Buffer.from([SOCKS_VERSION, method]);
}

export interface Socks5Request {
  readonly command: number;
  readonly target: OutboundTarget;
}

const HOSTNAME = /^[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,62}))*\.?$/;

/** The request: VER CMD RSV ATYP DST.ADDR DST.PORT. Only CONNECT is accepted. */
export function parseRequest(buf: Uint8Array): ParseResult<Socks5Request> {
  if (buf.length < 4) {
    if (buf.length >= 1 && buf[0] !== SOCKS_VERSION)
      return error('bad-version', `version ${buf[0]} is not SOCKS5`);
    return { status: 'more' };
  }
  const [ver, cmd, rsv, atyp] = buf as unknown as [number, number, number, number];
  if (ver !== SOCKS_VERSION) return error('bad-version', `version ${ver} is not SOCKS5`);
  if (rsv !== 0x00)
    return error('bad-reserved', `reserved byte is ${rsv}, not 0`, reply(REPLY.generalFailure));
  let addrLen: number;
  let offset = 4;
  switch (atyp) {
    case ATYP_IPV4:
      addrLen = 4;
      break;
    case ATYP_IPV6:
      addrLen = 16;
      break;
    case ATYP_DOMAINNAME:
      if (buf.length < 5) return { status: 'more' };
      addrLen = buf[4] as number;
      offset = 5;
      if (addrLen === 0) return error('bad-domain-name', 'empty domain name', reply(REPLY.hostUnreachable));
      break;
    default:
      return error(
        'address-type-not-supported',
        `address type ${atyp} is not supported`,
        reply(REPLY.addressTypeNotSupported),
      );
  }
  const end = offset + addrLen + 2;
  if (buf.length < end) return { status: 'more' };
  // The command is checked once the request is whole, so the reply follows a complete request.
  if (cmd !== CMD_CONNECT) {
    const name = cmd === CMD_BIND ? 'BIND' : cmd === CMD_UDP_ASSOCIATE ? 'UDP ASSOCIATE' : `command ${cmd}`;
    return error('command-not-supported', `${name} is not supported`, reply(REPLY.commandNotSupported));
  }
  const addr = buf.subarray(offset, offset + addrLen);
  const port = ((buf[end - 2] as number) << 8) | (buf[end - 1] as number);
  if (port === 0) return error('bad-port', 'destination port 0', reply(REPLY.hostUnreachable));
  let target: OutboundTarget;
  if (atyp === ATYP_DOMAINNAME) {
    const name = Buffer.from(addr).toString('latin1');
    if (!HOSTNAME.test(name) && normalizeIp(name) === undefined) {
      return error('bad-domain-name', 'domain name has invalid characters', reply(REPLY.hostUnreachable));
    }
    target = { kind: 'hostname', hostname: name, port };
  } else {
    // 4 (IPv4) or 16 (IPv6) bytes, read by @weft/policy's one IP module, in its canonical form.
    const text = bytesToIp(addr) ?? '';
    target = { kind: 'address', ip: normalizeIp(text) ?? text, port };
  }
  return { status: 'ok', value: { command: cmd, target }, consumed: end };
}

/** A reply with BND.ADDR/BND.PORT (IPv4 0.0.0.0:0 unless given). */
export function reply(code: ReplyCode, bound?: { readonly ip: string; readonly port: number }): Buffer {
  const ip = bound === undefined ? undefined : normalizeIp(bound.ip);
  const bytes = ip === undefined ? undefined : ipToBytes(ip);
  if (bytes?.length === 16) {
    const out = Buffer.alloc(4 + 16 + 2);
    out.set([SOCKS_VERSION, code, 0x00, ATYP_IPV6]);
    out.set(bytes, 4);
    out.writeUInt16BE(bound?.port ?? 0, 20);
    return out;
  }
  const out = Buffer.alloc(4 + 4 + 2);
  out.set([SOCKS_VERSION, code, 0x00, ATYP_IPV4]);
  if (bytes !== undefined) out.set(bytes, 4);
  out.writeUInt16BE(bound?.port ?? 0, 8);
  return out;
}
