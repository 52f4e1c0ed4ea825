// Raw HTTP/2 for tests that must send what a client library refuses to: bursts of opened and
// cancelled streams, header fields with whitespace or uppercase names. HPACK here is literal
// fields without indexing and without Huffman coding, enough to send any field and to read a
// server's GOAWAY and RST_STREAM codes.
import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { encodeFrame, FRAME, H2_PREFACE, settingsFrame } from '@weft/hbone/testing';

export type RawField = readonly [string, string];

const FLAG_END_STREAM = 0x1;
const FLAG_END_HEADERS = 0x4;
const CANCEL = 0x8;
const FRAME_CONTINUATION = 0x9;

/** An HPACK string literal (no Huffman) with its 7-bit-prefix length. */
function hpackString(s: string): Buffer {
  const bytes = Buffer.from(s, 'latin1');
  return Buffer.concat([hpackInt(bytes.length, 7, 0), bytes]);
}

function hpackInt(n: number, prefix: number, first: number): Buffer {
  const max = (1 << prefix) - 1;
  if (n < max) return Buffer.from([first | n]);
  const out = [first | max];
  let rest = n - max;
  while (rest >= 128) {
    out.push((rest % 128) + 128);
    rest = Math.floor(rest / 128);
  }
  out.push(rest);
  return Buffer.from(out);
}

/** An HPACK header block of literal fields (to split across HEADERS and CONTINUATION frames). */
export function headerBlock(fields: readonly RawField[]): Buffer {
  return Buffer.concat(
    fields.flatMap(([name, value]) => [Buffer.from([0x00]), hpackString(name), hpackString(value)]),
  );
}

/** A HEADERS frame (END_HEADERS, and END_STREAM unless `endStream` is false) of literal fields. */
export function headersFrame(streamId: number, fields: readonly RawField[], endStream = true): Buffer {
  return encodeFrame(
    FRAME.HEADERS,
    FLAG_END_HEADERS | (endStream ? FLAG_END_STREAM : 0),
    streamId,
    headerBlock(fields),
  );
}

/**
 * A header block in pieces: HEADERS (END_STREAM, no END_HEADERS) with the first piece, then one
 * CONTINUATION frame per further piece, END_HEADERS on the last.
 */
export function headerBlockFrames(streamId: number, block: Buffer, pieces: number): Buffer[] {
  const size = Math.ceil(block.length / pieces);
  const frames: Buffer[] = [];
  for (let off = 0; off < block.length; off += size) {
    const last = off + size >= block.length;
    const part = block.subarray(off, off + size);
    frames.push(
      off === 0
        ? encodeFrame(FRAME.HEADERS, FLAG_END_STREAM | (last ? FLAG_END_HEADERS : 0), streamId, part)
        : encodeFrame(FRAME_CONTINUATION, last ? FLAG_END_HEADERS : 0, streamId, part),
    );
  }
  return frames;
}

export function rstStreamFrame(streamId: number, code = CANCEL): Buffer {
  const p = Buffer.alloc(4);
  p.writeUInt32BE(code, 0);
  return encodeFrame(FRAME.RST_STREAM, 0, streamId, p);
}

/** GET `path` with `:authority` `authority` and the extra fields. */
export function requestFields(path: string, authority: string, extra: readonly RawField[] = []): RawField[] {
  return [[':method', 'GET'], [':scheme', 'http'], [':path', path], [':authority', authority], ...extra];
}

/**
 * The client preface, then `count` streams, each opened (HEADERS) and cancelled (RST_STREAM)
 * at once: one buffer, so the server reads it in one tick.
 */
export function openAndCancelBurst(count: number, authority: string, code = CANCEL): Buffer {
  const parts: Buffer[] = [H2_PREFACE, settingsFrame()];
  for (let i = 0; i < count; i++) {
    const id = 2 * i + 1;
    parts.push(headersFrame(id, requestFields(`/burst/${i}`, authority)), rstStreamFrame(id, code));
  }
  return Buffer.concat(parts);
}

export interface RawH2Outcome {
  /** The peer closed (or ended) the connection. */
  readonly closed: boolean;
  /** Error codes of the GOAWAY frames received, in order. */
  readonly goaways: readonly number[];
  /** RST_STREAM codes by stream id. */
  readonly resets: ReadonlyMap<number, number>;
  /** Stream ids that got a response HEADERS frame. */
  readonly answered: ReadonlySet<number>;
}

/** Reads frames from `conn` until it closes, `until` says enough, or `timeoutMs`. */
export function readFrames(
  conn: Duplex,
  opts: { timeoutMs?: number; until?: (o: RawH2Outcome) => boolean } = {},
): Promise<RawH2Outcome> {
  return new Promise((resolve) => {
    let buf = Buffer.alloc(0);
    const goaways: number[] = [];
    const resets = new Map<number, number>();
    const answered = new Set<number>();
    let settled = false;
    const finish = (closed: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      conn.destroy();
      resolve({ closed, goaways, resets, answered });
    };
    const timer = setTimeout(() => finish(false), opts.timeoutMs ?? 2000);
    conn.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      let off = 0;
      while (off + 9 <= buf.length) {
        const len = buf.readUIntBE(off, 3);
        if (off + 9 + len > buf.length) break;
        const type = buf[off + 3];
        const sid = buf.readUInt32BE(off + 5) & 0x7fffffff;
        if (type === FRAME.GOAWAY) goaways.push(buf.readUInt32BE(off + 9 + 4));
        if (type === FRAME.RST_STREAM) resets.set(sid, buf.readUInt32BE(off + 9));
        if (type === FRAME.HEADERS) answered.add(sid);
        off += 9 + len;
      }
      buf = buf.subarray(off);
      if (opts.until?.({ closed: false, goaways, resets, answered })) finish(false);
    });
    conn.on('error', () => {});
    // the peer's FIN: a tunnel end with half-close semantics stays open for writing after it
    conn.on('end', () => finish(true));
    conn.on('close', () => finish(true));
  });
}

/** Sends the preface, SETTINGS and `frames` on a fresh TCP connection and reads the outcome. */
export function rawH2Exchange(
  port: number,
  frames: Buffer,
  opts: { timeoutMs?: number; until?: (o: RawH2Outcome) => boolean } = {},
): Promise<RawH2Outcome> {
  const c: Socket = connect(port, '127.0.0.1');
  c.setNoDelay(true);
  const out = readFrames(c, opts);
  c.write(Buffer.concat([H2_PREFACE, settingsFrame(), frames]));
  return out;
}

export const H2_ERROR = {
  NO_ERROR: 0x0,
  PROTOCOL_ERROR: 0x1,
  INTERNAL_ERROR: 0x2,
  REFUSED_STREAM: 0x7,
  CANCEL: 0x8,
  ENHANCE_YOUR_CALM: 0xb,
} as const;
