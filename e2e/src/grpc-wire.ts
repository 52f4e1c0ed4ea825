// One unary call of the examples' Echo service over an already-open socket, as a plain gRPC app
// sends it (HTTP/2 without TLS, "h2c"): how an ambient or sidecar pod's app calls a gRPC service
// through its mesh data plane in the scenarios. The two messages are tiny and fixed
// (EchoRequest { message }, EchoReply { message, pod, version, peer }, all strings), so they are
// encoded here by hand rather than through a protobuf runtime.
import { connect as h2connect } from 'node:http2';
import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';

/**
 * The socket as a plain JS stream. Node's HTTP/2 reads a net.Socket's native handle directly,
 * so bytes a SOCKS5 client library re-emits as 'data' events (the server's first SETTINGS frame,
 * when it arrived in the same segment as the SOCKS5 reply) would never reach it; through a JS
 * stream they do.
 */
function asStream(socket: Socket): Duplex {
  const d = new Duplex({
    read() {
      socket.resume();
    },
    write(chunk, _enc, cb) {
      socket.write(chunk, cb);
    },
    final(cb) {
      socket.end();
      cb();
    },
    destroy(err, cb) {
      socket.destroy();
      cb(err);
    },
  });
  socket.on('data', (c: Buffer) => {
    if (!d.push(c)) socket.pause();
  });
  socket.on('end', () => d.push(null));
  socket.on('error', (e) => d.destroy(e));
  socket.on('close', () => d.destroy());
  return d;
}

export interface GrpcWireReply {
  readonly pod: string;
  readonly version: string;
  /** The caller's SPIFFE ID as the server saw it ("" without a client certificate). */
  readonly peer: string;
}

export type GrpcWireResult =
  | { readonly ok: true; readonly reply: GrpcWireReply }
  | { readonly ok: false; readonly status: number | undefined; readonly error: string };

function field(tag: number, value: string): Buffer {
  const bytes = Buffer.from(value, 'utf8');
  if (bytes.length > 127) throw new Error('grpc-wire: message too long for the fixed encoder');
  return Buffer.concat([Buffer.from([(tag << 3) | 2, bytes.length]), bytes]);
}

/** Decodes the string fields 1-4 of an EchoReply; unknown or non-string fields are skipped. */
export function decodeEchoReply(buf: Buffer): GrpcWireReply {
  const out: string[] = ['', '', '', '', ''];
  let i = 0;
  const varint = (): number => {
    let v = 0;
    let shift = 0;
    for (;;) {
      const b = buf[i++];
      if (b === undefined) throw new Error('grpc-wire: truncated varint');
      v += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return v;
      shift += 7;
    }
  };
  while (i < buf.length) {
    const key = varint();
    const wire = key & 7;
    const tag = Math.floor(key / 8);
    if (wire === 2) {
      const len = varint();
      if (i + len > buf.length) throw new Error('grpc-wire: truncated field');
      if (tag >= 1 && tag <= 4) out[tag] = buf.subarray(i, i + len).toString('utf8');
      i += len;
    } else if (wire === 0) varint();
    else throw new Error(`grpc-wire: unexpected wire type ${wire}`);
  }
  return { pod: out[2] ?? '', version: out[3] ?? '', peer: out[4] ?? '' };
}

/** Calls /weft.examples.v1.Echo/<method> over `socket`; resolves with the reply or the failure. */
export function echoOverSocket(
  socket: Socket,
  authority: string,
  method: 'Echo' | 'Admin',
  timeoutMs = 5000,
): Promise<GrpcWireResult> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (r: GrpcWireResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      session.close();
      socket.destroy();
      resolve(r);
    };
    const timer = setTimeout(
      () => done({ ok: false, status: undefined, error: `timed out after ${timeoutMs} ms` }),
      timeoutMs,
    );
    const stream = asStream(socket);
    const session = h2connect(`http://${authority}`, { createConnection: () => stream });
    let goaway = '';
    session.on('goaway', (code) => {
      goaway = ` (peer GOAWAY code ${code})`;
    });
    session.on('error', (e) => done({ ok: false, status: undefined, error: `${e.message}${goaway}` }));
    const body = field(1, 'hello');
    const frame = Buffer.concat([Buffer.from([0, 0, 0, 0, body.length]), body]);
    const req = session.request({
      ':method': 'POST',
      ':path': `/weft.examples.v1.Echo/${method}`,
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    const chunks: Buffer[] = [];
    let headerStatus: string | undefined;
    req.on('response', (h) => {
      const s = h['grpc-status'];
      if (s !== undefined) headerStatus = String(s);
    });
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('trailers', (t) => {
      const status = Number(t['grpc-status'] ?? headerStatus ?? 2);
      if (status !== 0) {
        done({ ok: false, status, error: String(t['grpc-message'] ?? `grpc-status ${status}`) });
        return;
      }
      const all = Buffer.concat(chunks);
      try {
        done({ ok: true, reply: decodeEchoReply(all.subarray(5, 5 + all.readUInt32BE(1))) });
      } catch (e) {
        done({ ok: false, status: 0, error: (e as Error).message });
      }
    });
    req.on('end', () => {
      if (headerStatus !== undefined && headerStatus !== '0')
        done({ ok: false, status: Number(headerStatus), error: `grpc-status ${headerStatus}` });
      else done({ ok: false, status: undefined, error: 'stream ended without trailers' });
    });
    req.on('error', (e) =>
      done({
        ok: false,
        status: undefined,
        error: `${e.message}${goaway} [${(e as { code?: string }).code ?? ''}]`,
      }),
    );
    req.end(frame);
  });
}
