// Reads back one key=value line as written by the logger and the access log, undoing the
// escapes. Strict: anything the writer could not have produced is an error, so tests catch a
// line that a log shipper would split or misread.

export function parseKvLine(line: string): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < line.length) {
    const eq = line.indexOf('=', i);
    if (eq <= i) throw new Error(`no key at ${i}`);
    const key = line.slice(i, eq);
    if (!/^[A-Za-z0-9_.-]+$/.test(key)) throw new Error(`bad key "${key}"`);
    if (Object.hasOwn(out, key)) throw new Error(`duplicate key "${key}"`);
    let j = eq + 1;
    let value = '';
    if (line[j] === '"') {
      j++;
      for (;;) {
        if (j >= line.length) throw new Error(`unterminated value for ${key}`);
        const c = line[j] as string;
        if (c === '"') {
          j++;
          break;
        }
        if (c === '\\') {
          const e = line[j + 1];
          if (e === '"' || e === '\\') value += e;
          else if (e === 'n') value += '\n';
          else if (e === 'r') value += '\r';
          else if (e === 't') value += '\t';
          else if (e === 'u') {
            const hex = line.slice(j + 2, j + 6);
            if (!/^[0-9a-f]{4}$/.test(hex)) throw new Error(`bad \\u escape for ${key}`);
            value += String.fromCharCode(Number.parseInt(hex, 16));
            j += 4;
          } else throw new Error(`bad escape for ${key}`);
          j += 2;
          continue;
        }
        const code = c.charCodeAt(0);
        if (code < 0x20 || code === 0x7f) throw new Error(`raw control character in ${key}`);
        value += c;
        j++;
      }
    } else {
      while (j < line.length && line[j] !== ' ') {
        const c = line[j] as string;
        if (c === '"' || c === '=' || c === '\\' || c.charCodeAt(0) < 0x21 || c.charCodeAt(0) > 0x7e) {
          throw new Error(`unsafe character in bare value of ${key}`);
        }
        value += c;
        j++;
      }
      if (value === '') throw new Error(`empty bare value for ${key}`);
    }
    out[key] = value;
    if (j < line.length) {
      if (line[j] !== ' ') throw new Error(`expected a space after ${key}`);
      j++;
    }
    i = j;
  }
  return out;
}
