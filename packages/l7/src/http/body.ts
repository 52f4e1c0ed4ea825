// Body helpers: buffering (for retries and mirrors), counting, and writing a body to a sink.
import type { Readable } from 'node:stream';
import type { Body, BytesBody, Headers, StreamBody } from './message.ts';

export function bytesBody(data: string | Uint8Array, trailers?: Headers): BytesBody {
  const chunk = typeof data === 'string' ? Buffer.from(data) : data;
  return trailers === undefined
    ? { kind: 'bytes', chunks: [chunk], length: chunk.byteLength }
    : { kind: 'bytes', chunks: [chunk], length: chunk.byteLength, trailers };
}

export function streamBody(
  stream: Readable,
  length: number | undefined,
  trailers: () => Headers | undefined,
): StreamBody {
  return { kind: 'stream', stream, length, trailers };
}

/** Whether the body can be sent more than once as it is. */
export function isReplayable(body: Body): boolean {
  return body.kind !== 'stream';
}

export type BufferResult =
  | { readonly ok: true; readonly body: BytesBody }
  | { readonly ok: false; readonly reason: 'too-large' | 'aborted' };

/**
 * Reads a body into memory, up to `limit` bytes. A stream longer than the limit is left
 * partly consumed (the caller must then fail the request).
 */
export function bufferBody(body: Body, limit: number): Promise<BufferResult> {
  if (body.kind === 'bytes') {
    return Promise.resolve(body.length <= limit ? { ok: true, body } : { ok: false, reason: 'too-large' });
  }
  if (body.kind === 'empty') {
    return Promise.resolve({
      ok: true,
      body: { kind: 'bytes', chunks: [], length: 0, trailers: body.trailers },
    });
  }
  const stream = body.stream;
  return new Promise<BufferResult>((resolve) => {
    const chunks: Uint8Array[] = [];
    let length = 0;
    let done = false;
    const finish = (r: BufferResult) => {
      if (done) return;
      done = true;
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', onError);
      stream.off('close', onClose);
      resolve(r);
    };
    const onData = (c: Uint8Array) => {
      length += c.byteLength;
      if (length > limit) {
        stream.pause();
        finish({ ok: false, reason: 'too-large' });
        return;
      }
      chunks.push(c);
    };
    const onEnd = () => {
      const trailers = body.trailers();
      finish({
        ok: true,
        body:
          trailers === undefined
            ? { kind: 'bytes', chunks, length }
            : { kind: 'bytes', chunks, length, trailers },
      });
    };
    const onError = () => finish({ ok: false, reason: 'aborted' });
    const onClose = () => {
      if (!stream.readableEnded) finish({ ok: false, reason: 'aborted' });
    };
    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.on('error', onError);
    stream.on('close', onClose);
  });
}

/** Declared or known size, when known. */
export function knownLength(body: Body): number | undefined {
  return body.kind === 'empty' ? 0 : body.length;
}

/** Drains and discards a body (a response nobody reads, e.g. a mirror's). */
export function discardBody(body: Body): void {
  if (body.kind === 'stream') {
    body.stream.on('error', () => {});
    body.stream.resume();
  }
}

/** Destroys a streaming body (the request failed and nobody will read it). */
export function destroyBody(body: Body, err?: Error): void {
  if (body.kind === 'stream' && !body.stream.destroyed) body.stream.destroy(err);
}

/** Reads a whole body as text (tests, small local replies). */
export async function readBodyText(body: Body): Promise<string> {
  const r = await bufferBody(body, Number.MAX_SAFE_INTEGER);
  if (!r.ok) throw new Error(`body ${r.reason}`);
  return Buffer.concat(r.body.chunks.map((c) => (Buffer.isBuffer(c) ? c : Buffer.from(c)))).toString('utf8');
}

/** Where a body is written: an http ClientRequest, ServerResponse or HTTP/2 stream. */
export interface BodySink {
  write(chunk: Uint8Array): boolean;
  end(chunk?: Uint8Array): void;
  once(event: 'drain', listener: () => void): unknown;
}

export interface PipeBodyOptions {
  /** Called with the trailers right before `end()` (only when there are some). */
  readonly trailers?: ((t: Headers) => void) | undefined;
  /** Called once: error undefined when the whole body was written. */
  readonly done: (err: Error | undefined, bytes: number) => void;
  /** Skip `end()` (the caller ends, e.g. after sending trailers itself). */
  readonly noEnd?: boolean;
}

/** Writes a body to a sink with backpressure; reports the byte count and how it ended. */
export function pipeBody(body: Body, sink: BodySink, opts: PipeBodyOptions): void {
  if (body.kind === 'empty') {
    if (body.trailers !== undefined && opts.trailers) opts.trailers(body.trailers);
    if (!opts.noEnd) sink.end();
    opts.done(undefined, 0);
    return;
  }
  if (body.kind === 'bytes') {
    const chunks = body.chunks;
    if (chunks.length === 1 && body.trailers === undefined && !opts.noEnd) {
      // one write (head and body together) instead of a write and an end
      sink.end(chunks[0]);
      opts.done(undefined, body.length);
      return;
    }
    for (const c of chunks) sink.write(c);
    if (body.trailers !== undefined && opts.trailers) opts.trailers(body.trailers);
    if (!opts.noEnd) sink.end();
    opts.done(undefined, body.length);
    return;
  }
  const s = body.stream;
  let bytes = 0;
  let finished = false;
  const finish = (err: Error | undefined) => {
    if (finished) return;
    finished = true;
    s.off('data', onData);
    s.off('end', onEnd);
    s.off('error', onError);
    s.off('close', onClose);
    opts.done(err, bytes);
  };
  const onDrain = () => s.resume();
  const onData = (c: Uint8Array) => {
    bytes += c.byteLength;
    if (!sink.write(c)) {
      s.pause();
      sink.once('drain', onDrain);
    }
  };
  const onEnd = () => {
    const t = body.trailers();
    if (t !== undefined && opts.trailers) opts.trailers(t);
    if (!opts.noEnd) sink.end();
    finish(undefined);
  };
  const onError = (e: Error) => finish(e);
  const onClose = () => {
    if (!s.readableEnded)
      finish(Object.assign(new Error('body stream closed before its end'), { code: 'ECONNRESET' }));
  };
  s.on('data', onData);
  s.on('end', onEnd);
  s.on('error', onError);
  s.on('close', onClose);
}
