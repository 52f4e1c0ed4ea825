// Splits a byte stream into newline-terminated lines with a size limit. A line over the limit is
// reported once and skipped up to its newline, so a peer cannot make us buffer without bound.

import { StringDecoder } from 'node:string_decoder';
import { MAX_LINE_LENGTH } from './messages.ts';

export type LineEvent = { readonly line: string } | { readonly oversized: true };

export class LineSplitter {
  readonly #decoder = new StringDecoder('utf8');
  readonly #limit: number;
  #pending = '';
  #skipping = false;

  constructor(limit = MAX_LINE_LENGTH) {
    this.#limit = limit;
  }

  /** Feeds a chunk; returns the complete lines (without newline) and oversize events in order. */
  push(chunk: Buffer | string): LineEvent[] {
    const text = typeof chunk === 'string' ? chunk : this.#decoder.write(chunk);
    const events: LineEvent[] = [];
    let start = 0;
    for (;;) {
      const nl = text.indexOf('\n', start);
      if (nl < 0) break;
      const piece = text.slice(start, nl);
      start = nl + 1;
      if (this.#skipping) {
        this.#skipping = false;
        this.#pending = '';
        continue;
      }
      const line = this.#pending + piece;
      this.#pending = '';
      if (line.length > this.#limit) events.push({ oversized: true });
      else events.push({ line: line.endsWith('\r') ? line.slice(0, -1) : line });
    }
    if (!this.#skipping) {
      this.#pending += text.slice(start);
      if (this.#pending.length > this.#limit) {
        this.#pending = '';
        this.#skipping = true;
        events.push({ oversized: true });
      }
    }
    return events;
  }
}
