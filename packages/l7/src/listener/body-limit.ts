// A byte budget for request bodies of unknown length (chunked HTTP/1.1, HTTP/2 without
// content-length): passes data through and fails the stream once the budget is spent.
import { Transform, type TransformCallback } from 'node:stream';

export class BodyTooLarge extends Error {
  readonly code = 'BODY_TOO_LARGE';
  constructor(limit: number) {
    super(`request body larger than ${limit} bytes`);
  }
}

export class BodyLimit extends Transform {
  /** Bytes passed so far. */
  seen = 0;
  exceeded = false;
  private readonly limit: number;
  constructor(limit: number) {
    super();
    this.limit = limit;
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.seen += chunk.length;
    if (this.seen > this.limit) {
      this.exceeded = true;
      cb(new BodyTooLarge(this.limit));
      return;
    }
    cb(null, chunk);
  }
}
