// Asks an in-process HTTP server a GET over an in-memory connection and reads the answer, so a
// worker can answer "what are your metrics / are you ready" with exactly what its own endpoint
// would serve, without a socket or a port. Connections made here are marked: the endpoint answers
// them from this process alone (see cluster.ts), never by asking the other workers again.
import type { Server } from 'node:http';

export interface LocalResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

const localSockets = new WeakSet<object>();

/** True for a connection made by `localGet`. */
export function isLocalRequestSocket(socket: object | null | undefined): boolean {
  return socket !== null && socket !== undefined && localSockets.has(socket);
}

const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

export async function localGet(server: Server, path: string, timeoutMs = 5_000): Promise<LocalResponse> {
  // Loaded here, in a worker answering a gather, not by the supervisor importing this module.
  const { createDuplexPair } = await import('@weft/hbone');
  return new Promise((resolve, reject) => {
    const [client, serverEnd] = createDuplexPair();
    localSockets.add(serverEnd);
    // What node:http and the endpoints call on a net.Socket; the bound here is localGet's timer.
    Object.assign(serverEnd, {
      setTimeout: () => serverEnd,
      setNoDelay: () => serverEnd,
      setKeepAlive: () => serverEnd,
      remoteAddress: '127.0.0.1',
      remotePort: 0,
    });
    const chunks: Buffer[] = [];
    let size = 0;
    const timer = setTimeout(() => {
      client.destroy();
      reject(new Error(`local GET ${path}: no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    client.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_RESPONSE_BYTES) {
        clearTimeout(timer);
        client.destroy();
        reject(new Error(`local GET ${path}: answer over ${MAX_RESPONSE_BYTES} bytes`));
        return;
      }
      chunks.push(c);
    });
    client.on('end', () => {
      clearTimeout(timer);
      client.destroy();
      try {
        resolve(parseResponse(Buffer.concat(chunks)));
      } catch (err) {
        reject(err);
      }
    });
    client.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    server.emit('connection', serverEnd);
    // Not half-closed: node:http would end a half-closed connection before an async answer.
    client.write(`GET ${path} HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n`);
  });
}

/** Parses one HTTP/1.1 response read to its end (content-length, chunked or until close). */
export function parseResponse(raw: Buffer): LocalResponse {
  const headEnd = raw.indexOf('\r\n\r\n');
  if (headEnd < 0) throw new Error('local GET: no response head');
  const lines = raw.subarray(0, headEnd).toString('latin1').split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '');
  if (m === null) throw new Error(`local GET: bad status line ${JSON.stringify(lines[0])}`);
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let body = raw.subarray(headEnd + 4);
  if (headers['transfer-encoding']?.toLowerCase() === 'chunked') body = dechunk(body);
  else if (headers['content-length'] !== undefined)
    body = body.subarray(0, Number(headers['content-length']));
  return { status: Number(m[1]), headers, body: body.toString('utf8') };
}

function dechunk(data: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = data.indexOf('\r\n', at);
    if (eol < 0) throw new Error('local GET: truncated chunked body');
    const size = Number.parseInt(data.subarray(at, eol).toString('latin1').split(';')[0] ?? '', 16);
    if (!Number.isFinite(size)) throw new Error('local GET: bad chunk size');
    if (size === 0) return Buffer.concat(parts);
    parts.push(data.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
}
