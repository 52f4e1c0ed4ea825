// A strict parser for the Prometheus text exposition format (version 0.0.4), for tests that
// assert exact metric names and labels as a scraper would see them. It refuses what Prometheus
// would refuse (bad names, unterminated quotes, unknown escapes, samples of undeclared type
// after their family) instead of guessing, so a test fails on malformed output.

export interface PromSample {
  /** The sample name, e.g. istio_request_duration_milliseconds_bucket. */
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface PromFamily {
  readonly name: string;
  readonly type: string | undefined;
  readonly help: string | undefined;
  readonly samples: PromSample[];
}

export interface PromText {
  readonly families: ReadonlyMap<string, PromFamily>;
  /** All samples in order. */
  readonly samples: readonly PromSample[];
  /** Samples with this exact name (and, optionally, a subset of labels). */
  find(name: string, labels?: Readonly<Record<string, string>>): PromSample[];
  /** The one sample's value; throws when there are zero or several. */
  value(name: string, labels?: Readonly<Record<string, string>>): number;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const SUFFIXES = ['_bucket', '_sum', '_count', '_total', '_created', '_info'];

export function parsePrometheusText(text: string): PromText {
  const families = new Map<string, PromFamily>();
  const samples: PromSample[] = [];
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n] as string;
    const where = `line ${n + 1}`;
    if (line.trim() === '') continue;
    if (line.includes('\r')) throw new Error(`${where}: carriage return in line`);
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+)(?: (.*))?$/.exec(line);
      if (m === null) continue; // a plain comment
      const [, kind, name = '', rest = ''] = m;
      if (!NAME.test(name)) throw new Error(`${where}: bad metric name ${name}`);
      const fam = familyFor(families, name);
      if (kind === 'TYPE') {
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(rest)) {
          throw new Error(`${where}: bad type ${rest}`);
        }
        if (fam.type !== undefined) throw new Error(`${where}: second TYPE for ${name}`);
        families.set(name, { ...fam, type: rest });
      } else {
        families.set(name, { ...fam, help: unescapeHelp(rest, where) });
      }
      continue;
    }
    const sample = parseSample(line, where);
    samples.push(sample);
    const fam = families.get(sample.name) ?? families.get(baseName(sample.name, families));
    if (fam === undefined) familyFor(families, sample.name).samples.push(sample);
    else fam.samples.push(sample);
  }
  const find = (name: string, labels: Readonly<Record<string, string>> = {}): PromSample[] =>
    samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return {
    families,
    samples,
    find,
    value(name, labels) {
      const found = find(name, labels);
      if (found.length !== 1) {
        throw new Error(`expected one sample ${name} ${JSON.stringify(labels ?? {})}, found ${found.length}`);
      }
      return (found[0] as PromSample).value;
    },
  };
}

function familyFor(families: Map<string, PromFamily>, name: string): PromFamily {
  let f = families.get(name);
  if (f === undefined) {
    f = { name, type: undefined, help: undefined, samples: [] };
    families.set(name, f);
  }
  return f;
}

function baseName(sampleName: string, families: Map<string, PromFamily>): string {
  for (const suffix of SUFFIXES) {
    if (sampleName.endsWith(suffix)) {
      const base = sampleName.slice(0, -suffix.length);
      if (families.has(base)) return base;
    }
  }
  return sampleName;
}

function parseSample(line: string, where: string): PromSample {
  let i = 0;
  while (i < line.length && line[i] !== '{' && line[i] !== ' ') i++;
  const name = line.slice(0, i);
  if (!NAME.test(name)) throw new Error(`${where}: bad sample name "${name}"`);
  const labels: Record<string, string> = {};
  if (line[i] === '{') {
    i++;
    for (;;) {
      if (line[i] === '}') {
        i++;
        break;
      }
      const eq = line.indexOf('=', i);
      if (eq < 0) throw new Error(`${where}: label without '='`);
      const label = line.slice(i, eq);
      if (!LABEL.test(label)) throw new Error(`${where}: bad label name "${label}"`);
      if (Object.hasOwn(labels, label)) throw new Error(`${where}: duplicate label ${label}`);
      if (line[eq + 1] !== '"') throw new Error(`${where}: unquoted value for ${label}`);
      let j = eq + 2;
      let value = '';
      for (;;) {
        if (j >= line.length) throw new Error(`${where}: unterminated value for ${label}`);
        const c = line[j] as string;
        if (c === '"') break;
        if (c === '\\') {
          const e = line[j + 1];
          if (e === '\\') value += '\\';
          else if (e === '"') value += '"';
          else if (e === 'n') value += '\n';
          else throw new Error(`${where}: bad escape \\${e ?? ''} in ${label}`);
          j += 2;
        } else {
          value += c;
          j++;
        }
      }
      labels[label] = value;
      i = j + 1;
      if (line[i] === ',') i++;
      else if (line[i] !== '}') throw new Error(`${where}: expected ',' or '}' after ${label}`);
    }
  }
  if (line[i] !== ' ') throw new Error(`${where}: expected a space before the value`);
  const parts = line.slice(i + 1).split(' ');
  if (parts.length > 2) throw new Error(`${where}: trailing data`);
  const raw = parts[0] as string;
  // Prometheus reads values with Go's ParseFloat: NaN and Inf in any letter case
  const lower = raw.toLowerCase();
  const value =
    lower === '+inf' || lower === 'inf'
      ? Number.POSITIVE_INFINITY
      : lower === '-inf'
        ? Number.NEGATIVE_INFINITY
        : lower === 'nan'
          ? Number.NaN
          : Number(raw);
  if (raw === '' || (Number.isNaN(value) && lower !== 'nan')) throw new Error(`${where}: bad value "${raw}"`);
  return { name, labels, value };
}

function unescapeHelp(s: string, where: string): string {
  return s.replace(/\\(.)/g, (_, e: string) => {
    if (e === '\\') return '\\';
    if (e === 'n') return '\n';
    throw new Error(`${where}: bad escape in HELP`);
  });
}
