// A reader for the Prometheus text format, as much as `weft top` needs: samples with labels.

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parsePrometheus(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const brace = line.indexOf('{');
    const end = line.lastIndexOf('}');
    let name: string;
    let rest: string;
    const labels: Record<string, string> = {};
    if (brace >= 0 && end > brace) {
      name = line.slice(0, brace);
      for (const m of line.slice(brace + 1, end).matchAll(LABEL))
        labels[m[1] ?? ''] = (m[2] ?? '').replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
      rest = line.slice(end + 1).trim();
    } else {
      const sp = line.indexOf(' ');
      name = line.slice(0, sp);
      rest = line.slice(sp + 1).trim();
    }
    const value = Number(rest.split(/\s+/)[0]);
    if (Number.isFinite(value)) out.push({ name, labels, value });
  }
  return out;
}
