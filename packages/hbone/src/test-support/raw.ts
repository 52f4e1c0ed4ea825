// A hand-driven HTTP/2-over-TLS client for hostile tests: it sends exactly the frames a test
// builds and records the frames that come back.
import { type TLSSocket, connect as tlsConnect } from 'node:tls';
import type { CertMaterial } from '../certs.ts';
import { encodeFrame, FRAME, H2_PREFACE, settingsFrame } from '../testing/frames.ts';

export interface Frame {
  readonly type: number;
  readonly flags: number;
  readonly streamId: number;
  readonly payload: Buffer;
}

export interface RawH2 {
  readonly socket: TLSSocket;
  readonly frames: Frame[];
  /** Resolves when the server closed the connection. */
  readonly closed: Promise<void>;
  write(data: Buffer | readonly Buffer[]): void;
  goaway(): Frame | undefined;
}

/** HPACK "literal header field without indexing, new name", no Huffman (RFC 7541 6.2.2). */
export function hpackLiteral(headers: readonly (readonly [string, string])[]): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of headers) {
    const n = Buffer.from(name, 'latin1');
    const v = Buffer.from(value, 'latin1');
    if (n.length > 126 || v.length > 126) throw new Error('hpackLiteral: keep names and values short');
    parts.push(Buffer.from([0x00, n.length]), n, Buffer.from([v.length]), v);
  }
  return Buffer.concat(parts);
}

/** HEADERS with END_HEADERS (and END_STREAM if asked). */
export function headersFrame(
  streamId: number,
  headers: readonly (readonly [string, string])[],
  endStream = false,
) {
  return encodeFrame(FRAME.HEADERS, 0x4 | (endStream ? 0x1 : 0), streamId, hpackLiteral(headers));
}

export function rstFrame(streamId: number, code: number): Buffer {
  const p = Buffer.alloc(4);
  p.writeUInt32BE(code);
  return encodeFrame(FRAME.RST_STREAM, 0, streamId, p);
}

export async function rawH2(
  via: { ip: string; port: number },
  material: CertMaterial | undefined,
  opts: { preface?: boolean; read?: boolean } = {},
): Promise<RawH2> {
  const socket = tlsConnect({
    host: via.ip,
    port: via.port,
    ...(material !== undefined
      ? { key: material.keyPem, cert: material.certChainPem.join('\n'), ca: material.trustBundlePem }
      : {}),
    ALPNProtocols: ['h2'],
    minVersion: 'TLSv1.3',
    rejectUnauthorized: false,
  });
  socket.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    socket.once('secureConnect', () => resolve());
    socket.once('close', () => reject(new Error('closed during handshake')));
  });
  const frames: Frame[] = [];
  let buf = Buffer.alloc(0);
  if (opts.read !== false) {
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 9) {
        const len = buf.readUIntBE(0, 3);
        if (buf.length < 9 + len) break;
        frames.push({
          type: buf[3] as number,
          flags: buf[4] as number,
          streamId: buf.readUInt32BE(5) & 0x7fffffff,
          payload: buf.subarray(9, 9 + len),
        });
        buf = buf.subarray(9 + len);
      }
    });
  }
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  if (opts.preface !== false) socket.write(Buffer.concat([H2_PREFACE, settingsFrame()]));
  return {
    socket,
    frames,
    closed,
    write(data) {
      socket.write(Buffer.isBuffer(data) ? data : Buffer.concat([...data]));
    },
    goaway: () => frames.find((f) => f.type === FRAME.GOAWAY),
  };
}
