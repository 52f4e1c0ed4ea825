// Joins two byte streams both ways with TCP semantics: data flows with backpressure (pipe),
// end-of-stream travels as a half-close (END_STREAM <-> FIN), and an abortive close of either
// side becomes an abortive close of the other (RST_STREAM CONNECT_ERROR <-> TCP RST). Used by the
// HBONE server for stream <-> upstream, and by callers of the client for app socket <-> tunnel.
import { constants as h2 } from 'node:http2';
import type { Duplex } from 'node:stream';

export type SpliceOutcome =
  /** Both directions ended with a half-close and both sides closed cleanly. */
  | 'closed'
  /** Side `a` was reset, failed or destroyed first; `b` was reset in turn. */
  | 'reset_a'
  /** Side `b` was reset, failed or destroyed first; `a` was reset in turn. */
  | 'reset_b'
  /** `reset()` was called (idle timeout, shutdown). */
  | 'reset_local';

export interface SpliceResult {
  readonly outcome: SpliceOutcome;
  /** Bytes read from `a` (and written to `b`). */
  readonly bytesAToB: number;
  readonly bytesBToA: number;
  /** The first error either side reported, if any. */
  readonly error: unknown;
}

export interface Splice {
  readonly bytesAToB: number;
  readonly bytesBToA: number;
  /** Aborts both sides (RST both ways). */
  reset(): void;
}

interface Http2StreamLike {
  readonly rstCode: number | undefined;
  readonly aborted?: boolean;
  close(code?: number): void;
}

function isHttp2Stream(s: Duplex): s is Duplex & Http2StreamLike {
  return 'rstCode' in s && typeof (s as unknown as Http2StreamLike).close === 'function' && 'session' in s;
}

/** Abortive close: RST_STREAM(CONNECT_ERROR) for HTTP/2 streams, TCP RST for sockets. */
export function resetStream(s: Duplex, h2Code: number = h2.NGHTTP2_CONNECT_ERROR): void {
  if (s.destroyed) return;
  if (isHttp2Stream(s)) {
    // close(code) ends the writable side first, which puts END_STREAM on the wire before the
    // RST_STREAM: the peer would see a clean half-close (and forward a FIN) before the reset. A
    // no-op _final keeps that END_STREAM from being sent, so the peer sees only the reset.
    if (!s.writableEnded) (s as unknown as { _final: (cb: () => void) => void })._final = (cb) => cb();
    s.close(h2Code);
    return;
  }
  const socket = s as Duplex & { resetAndDestroy?: () => void };
  if (typeof socket.resetAndDestroy === 'function') {
    try {
      socket.resetAndDestroy();
      return;
    } catch {
      // Not a TCP handle (e.g. a pipe or an in-memory pair): a plain destroy is the reset.
    }
  }
  s.destroy();
}

/**
 * One direction: every chunk of `src` is counted and written to `dst`; when `dst` pushes back,
 * `src` pauses until it drains; `src`'s end half-closes `dst`. What `pipe` does, with one 'data'
 * listener per chunk instead of two (the count rode on a second listener) and none of pipe's
 * bookkeeping: this runs for every chunk of every tunnel.
 */
function pump(src: Duplex, dst: Duplex, count: (bytes: number) => void): void {
  let waiting = false;
  const onDrain = (): void => {
    waiting = false;
    src.resume();
  };
  src.on('data', (chunk: Buffer) => {
    count(chunk.length);
    if (!dst.write(chunk) && !waiting && !dst.destroyed) {
      waiting = true;
      src.pause();
      dst.once('drain', onDrain);
    }
  });
  src.once('end', () => dst.end());
}

export function splice(a: Duplex, b: Duplex, onDone?: (result: SpliceResult) => void): Splice {
  let aToB = 0;
  let bToA = 0;
  let error: unknown;
  let outcome: SpliceOutcome | undefined;
  let aErrored = false;
  let bErrored = false;
  let aClosed = false;
  let bClosed = false;
  let finished = false;

  const finish = () => {
    if (finished || !aClosed || !bClosed) return;
    finished = true;
    onDone?.({ outcome: outcome ?? 'closed', bytesAToB: aToB, bytesBToA: bToA, error });
  };
  const clean = (s: Duplex, errored: boolean): boolean => {
    if (errored) return false;
    // `aborted`: the peer closed the stream while we were still sending (even with NO_ERROR).
    if (isHttp2Stream(s)) return s.rstCode === h2.NGHTTP2_NO_ERROR && s.readableEnded && s.aborted !== true;
    return s.readableEnded && s.writableFinished;
  };

  a.on('error', (e) => {
    aErrored = true;
    error ??= e;
  });
  b.on('error', (e) => {
    bErrored = true;
    error ??= e;
  });
  a.on('close', () => {
    aClosed = true;
    if (!clean(a, aErrored)) {
      outcome ??= 'reset_a';
      resetStream(b);
    }
    finish();
  });
  b.on('close', () => {
    bClosed = true;
    if (!clean(b, bErrored)) {
      outcome ??= 'reset_b';
      resetStream(a);
    }
    finish();
  });
  pump(a, b, (n) => {
    aToB += n;
  });
  pump(b, a, (n) => {
    bToA += n;
  });

  return {
    get bytesAToB() {
      return aToB;
    },
    get bytesBToA() {
      return bToA;
    },
    reset() {
      outcome ??= 'reset_local';
      resetStream(a, h2.NGHTTP2_CANCEL);
      resetStream(b);
    },
  };
}
