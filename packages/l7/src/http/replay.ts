// A streaming request body that can be sent again: the first attempt streams as the body
// arrives (no waiting for its end, so client-streaming gRPC works), while a copy of up to
// `limit` bytes is kept. A retry replays the copy and then keeps following the source. Past the
// limit the body is no longer replayable and the request is not retried (as Envoy's buffer limit).
import { PassThrough, type Readable } from 'node:stream';
import type { Body, StreamBody } from './message.ts';

export class ReplayableBody {
  private chunks: Buffer[] = [];
  private size = 0;
  private overflow = false;
  private ended = false;
  private failed: Error | undefined;
  private current: PassThrough | undefined;
  private readonly src: Readable;
  private readonly body: StreamBody;
  private readonly limit: number;

  constructor(body: StreamBody, limit: number) {
    this.body = body;
    this.src = body.stream;
    this.limit = limit;
    this.src.on('data', (c: Buffer) => this.onData(c));
    this.src.once('end', () => {
      this.ended = true;
      this.current?.end();
    });
    this.src.once('error', (e: Error) => {
      this.failed = e;
      this.current?.destroy(e);
    });
    this.src.once('close', () => {
      if (!this.ended && this.failed === undefined) {
        this.failed = Object.assign(new Error('request body closed before its end'), { code: 'ECONNRESET' });
        this.current?.destroy(this.failed);
      }
    });
  }

  private onData(c: Buffer): void {
    if (!this.overflow) {
      this.size += c.length;
      if (this.size > this.limit) {
        this.overflow = true;
        this.chunks = [];
      } else this.chunks.push(c);
    }
    const cur = this.current;
    if (cur !== undefined && !cur.destroyed && !cur.write(c)) {
      this.src.pause();
      cur.once('drain', () => this.src.resume());
    }
  }

  /** Whether another attempt can carry the whole body. */
  get replayable(): boolean {
    return !this.overflow && this.failed === undefined;
  }

  /** The body for the next attempt; undefined when it cannot be replayed any more. */
  next(): Body | undefined {
    if (this.current !== undefined) {
      if (!this.replayable) return undefined;
      const old = this.current;
      this.current = undefined;
      old.on('error', () => {});
      old.destroy();
    }
    if (this.ended) {
      const trailers = this.body.trailers();
      return trailers === undefined
        ? { kind: 'bytes', chunks: this.chunks, length: this.size }
        : { kind: 'bytes', chunks: this.chunks, length: this.size, trailers };
    }
    const pass = new PassThrough();
    // The upstream attaches its own listener once connected; a client abort before that must not
    // be an unhandled 'error' (it ended the process).
    pass.on('error', () => {});
    for (const c of this.chunks) pass.write(c);
    this.current = pass;
    if (this.src.isPaused()) this.src.resume();
    return { kind: 'stream', stream: pass, length: this.body.length, trailers: () => this.body.trailers() };
  }
}
