// key=value ("logfmt"-style) rendering shared by the package logger and the access log.
// The one property that matters: whatever a peer puts in a value (a path, a header, a SAN),
// the output stays one line with unambiguous field boundaries. So a value is written bare only
// when it is made of printable ASCII without space, quote, backslash or '='; anything else is
// quoted, with quote/backslash escaped and every control or line-breaking character written as
// an escape sequence (\n, \r, \t, \uXXXX). Unpaired surrogates are escaped too, so the line is
// always valid UTF-8.

/** How an absent value is written. */
export const ABSENT = '-';

/** Renders a string value for a key=value line: bare when safe, otherwise quoted and escaped. */
export function kvString(value: string): string {
  if (value.length === 0) return '""';
  if (value === ABSENT) return '"-"';
  let bare = true;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    // printable ASCII except space (0x20), '"' (0x22), '=' (0x3d), '\' (0x5c)
    if (c <= 0x20 || c >= 0x7f || c === 0x22 || c === 0x3d || c === 0x5c) {
      bare = false;
      break;
    }
  }
  return bare ? value : quote(value);
}

/** Quotes and escapes a string (always quoted). */
export function quote(value: string): string {
  let out = '"';
  let start = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    let esc: string | undefined;
    if (c === 0x22) esc = '\\"';
    else if (c === 0x5c) esc = '\\\\';
    else if (c < 0x20 || (c >= 0x7f && c <= 0x9f) || c === 0x2028 || c === 0x2029) {
      esc = c === 0x0a ? '\\n' : c === 0x0d ? '\\r' : c === 0x09 ? '\\t' : unicodeEscape(c);
    } else if (c >= 0xd800 && c <= 0xdbff) {
      const next = i + 1 < value.length ? value.charCodeAt(i + 1) : 0;
      if (next >= 0xdc00 && next <= 0xdfff) {
        i++; // a well-formed pair: keep both halves
        continue;
      }
      esc = unicodeEscape(c);
    } else if (c >= 0xdc00 && c <= 0xdfff) {
      esc = unicodeEscape(c); // a low surrogate without its high half
    }
    if (esc !== undefined) {
      out += value.slice(start, i) + esc;
      start = i + 1;
    }
  }
  return `${out}${value.slice(start)}"`;
}

function unicodeEscape(c: number): string {
  return `\\u${c.toString(16).padStart(4, '0')}`;
}

/** Keys are ours, but field names passed to the logger may not be: keep them to [A-Za-z0-9_.-]. */
export function kvKey(key: string): string {
  if (/^[A-Za-z0-9_.-]+$/.test(key)) return key;
  const cleaned = key.replace(/[^A-Za-z0-9_.-]/g, '_');
  return cleaned.length > 0 ? cleaned : '_';
}

/**
 * Cuts a string to at most `max` UTF-16 units plus a "..." marker, never splitting a surrogate
 * pair. Values from the wire (paths, user agents) can be huge; a log line should not be.
 */
export function truncate(value: string, max: number): string {
  if (value.length <= max) return value;
  let end = max;
  const last = value.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return `${value.slice(0, end)}...`;
}
