// An in-memory connected socket pair (Node 20 has no stream.duplexPair): what one side writes the
// other reads, with backpressure, half-close and abortive close like TCP. A waypoint hands one end
// to its HTTP engine and returns the other from `connectUpstream`; tests use it as an upstream.
import { Duplex } from 'node:stream';

class PairEnd extends Duplex {
  peer: PairEnd | undefined;
  private pendingWrite: (() => void) | undefined;

  constructor() {
    super({ allowHalfOpen: true });
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    const peer = this.peer;
    if (peer === undefined || peer.destroyed) {
      cb(connReset());
      return;
    }
    if (peer.push(chunk)) cb();
    else peer.pendingWrite = cb;
  }

  override _final(cb: (err?: Error | null) => void): void {
    const peer = this.peer;
    if (peer !== undefined && !peer.destroyed) peer.push(null);
    cb();
  }

  override _read(): void {
    // The peer's write waits for this side to take its data.
    const pending = this.pendingWrite;
    if (pending !== undefined) {
      this.pendingWrite = undefined;
      pending();
    }
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    const peer = this.peer;
    const clean = err === null && this.readableEnded && this.writableFinished;
    if (peer !== undefined && !peer.destroyed && !clean) peer.destroy(connReset());
    const pending = this.pendingWrite;
    this.pendingWrite = undefined;
    pending?.();
    cb(err);
  }
}

function connReset(): Error {
  return Object.assign(new Error('connection reset by peer'), { code: 'ECONNRESET' });
}

/** Two connected in-memory duplex streams. */
export function createDuplexPair(): [Duplex, Duplex] {
  const a = new PairEnd();
  const b = new PairEnd();
  a.peer = b;
  b.peer = a;
  // A reset reaches the other end as an 'error': never unhandled, whoever holds the end.
  a.on('error', () => {});
  b.on('error', () => {});
  return [a, b];
}
