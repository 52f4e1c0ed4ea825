// Metric families with bound children, exported through a prom-client Registry.
//
// Why not prom-client's own Counter/Histogram on the hot path: every inc/observe there, even
// through `labels(...)`, validates the label object and builds a hash string from all label
// values (24 labels for Istio's metrics) on each call. Here a label set is resolved once, at
// `bind`, to a child holding plain numbers; recording is an addition and, for histograms, a
// bucket search. prom-client still owns everything around it: the registry, the text and
// OpenMetrics exposition (escaping, HELP/TYPE, default labels), registry merging, and the
// process metrics. A family plugs into the registry through the collection contract prom-client
// uses for its own metrics (`get()` / `getForPromString()` returning name, help, type, values).

import type { Registry } from 'prom-client';
import type { MetricsRegistry } from './registry.ts';

export type LabelValues<L extends string> = { readonly [K in L]: string | number };

export interface CounterChild {
  /** Adds `n` (default 1). Negative, NaN or infinite amounts are ignored. */
  inc(n?: number): void;
  /** The current value. */
  readonly value: number;
}

export interface GaugeChild {
  set(v: number): void;
  inc(n?: number): void;
  dec(n?: number): void;
  readonly value: number;
}

export interface HistogramChild {
  /** Records one observation. NaN or infinite values are ignored. */
  observe(v: number): void;
  readonly count: number;
  readonly sum: number;
}

export interface FamilyConfig<L extends string> {
  readonly name: string;
  readonly help: string;
  readonly labelNames?: readonly L[];
}

export interface HistogramConfig<L extends string> extends FamilyConfig<L> {
  /** Upper bounds, strictly increasing, finite (+Inf is implicit). */
  readonly buckets: readonly number[];
}

interface PromValue {
  value: number;
  labels: Record<string, string | number>;
  sharedLabels?: Readonly<Record<string, string>>;
  metricName?: string;
}

interface PromMetricObject {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram';
  aggregator: 'sum';
  values: PromValue[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

// Length-prefixed so that no choice of values can make two label sets share a key.
function seriesKey<L extends string>(names: readonly L[], labels: LabelValues<L>): string {
  let key = '';
  for (let i = 0; i < names.length; i++) {
    const v = String(labels[names[i] as L]);
    key += `${v.length}:${v}`;
  }
  return key;
}

abstract class Family<L extends string, C> {
  // mutable: prom-client renames counters while rendering OpenMetrics
  name: string;
  readonly help: string;
  readonly labelNames: readonly L[];
  readonly aggregator = 'sum' as const;
  abstract readonly type: 'counter' | 'gauge' | 'histogram';
  protected readonly series = new Map<string, { labels: Readonly<Record<string, string>>; child: C }>();

  constructor(config: FamilyConfig<L>) {
    if (!METRIC_NAME.test(config.name)) throw new Error(`invalid metric name "${config.name}"`);
    const labelNames = config.labelNames ?? [];
    for (const l of labelNames) {
      if (!LABEL_NAME.test(l) || l.startsWith('__'))
        throw new Error(`invalid label name "${l}" on ${config.name}`);
    }
    if (new Set(labelNames).size !== labelNames.length)
      throw new Error(`duplicate label name on ${config.name}`);
    this.name = config.name;
    this.help = config.help;
    this.labelNames = [...labelNames];
  }

  protected abstract newChild(): C;

  /**
   * The child for one label set, created on first use. Resolve it once per connection, route
   * or peer and keep it: recording through a child costs no label handling at all.
   */
  bind(labels: LabelValues<L>): C {
    const names = this.labelNames;
    const key = seriesKey(names, labels);
    const found = this.series.get(key);
    if (found !== undefined) return found.child;
    const resolved: Record<string, string> = {};
    for (const n of names) resolved[n] = cleanLabelValue(String(labels[n]));
    const child = this.newChild();
    this.series.set(key, { labels: Object.freeze(resolved), child });
    return child;
  }

  /** Drops one label set from the export (children already bound keep working, unexported). */
  remove(labels: LabelValues<L>): void {
    this.series.delete(seriesKey(this.labelNames, labels));
  }

  /** Number of label sets. */
  get size(): number {
    return this.series.size;
  }

  /** Zeroes every series in place (bound children stay valid). Used by Registry.resetMetrics(). */
  abstract reset(): void;

  /** prom-client collection contract: values with labels merged (JSON export, merging). */
  async get(): Promise<PromMetricObject> {
    const obj = this.collectValues();
    for (const v of obj.values) {
      if (v.sharedLabels !== undefined) {
        v.labels = { ...v.sharedLabels, ...v.labels };
        delete v.sharedLabels;
      }
    }
    return obj;
  }

  /** prom-client text path: a series' labels object is shared, so its rendering is cached. */
  async getForPromString(): Promise<PromMetricObject> {
    return this.collectValues();
  }

  protected abstract collectValues(): PromMetricObject;

  protected header(values: PromValue[]): PromMetricObject {
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}

/**
 * Label values come from peers (principals, hostnames). Prometheus' text format escapes only
 * backslash, quote and newline; other control characters are replaced so no value can break a
 * scrape line or a downstream parser.
 */
function cleanLabelValue(v: string): string {
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if ((c < 0x20 && c !== 0x0a) || c === 0x7f) {
      let out = '';
      for (let k = 0; k < v.length; k++) {
        const d = v.charCodeAt(k);
        out += (d < 0x20 && d !== 0x0a) || d === 0x7f ? '\ufffd' : v[k];
      }
      return out;
    }
  }
  return v;
}

class CounterCell implements CounterChild {
  value = 0;
  inc(n = 1): void {
    if (n >= 0 && n < Number.POSITIVE_INFINITY) this.value += n;
  }
}

export class CounterFamily<L extends string = string> extends Family<L, CounterChild> {
  readonly type = 'counter' as const;
  protected newChild(): CounterChild {
    return new CounterCell();
  }
  /** Convenience for cold paths: bind + inc. */
  inc(labels: LabelValues<L>, n = 1): void {
    this.bind(labels).inc(n);
  }
  reset(): void {
    for (const s of this.series.values()) (s.child as CounterCell).value = 0;
  }
  protected collectValues(): PromMetricObject {
    const values: PromValue[] = [];
    for (const s of this.series.values())
      values.push({ value: s.child.value, labels: {}, sharedLabels: s.labels });
    return this.header(values);
  }
}

class GaugeCell implements GaugeChild {
  value = 0;
  set(v: number): void {
    if (Number.isFinite(v)) this.value = v;
  }
  inc(n = 1): void {
    if (Number.isFinite(n)) this.value += n;
  }
  dec(n = 1): void {
    if (Number.isFinite(n)) this.value -= n;
  }
}

export class GaugeFamily<L extends string = string> extends Family<L, GaugeChild> {
  readonly type = 'gauge' as const;
  protected newChild(): GaugeChild {
    return new GaugeCell();
  }
  set(labels: LabelValues<L>, v: number): void {
    this.bind(labels).set(v);
  }
  reset(): void {
    for (const s of this.series.values()) (s.child as GaugeCell).value = 0;
  }
  protected collectValues(): PromMetricObject {
    const values: PromValue[] = [];
    for (const s of this.series.values())
      values.push({ value: s.child.value, labels: {}, sharedLabels: s.labels });
    return this.header(values);
  }
}

class HistogramCell implements HistogramChild {
  count = 0;
  sum = 0;
  // per-bucket (not cumulative) counts; the last slot is the +Inf overflow
  readonly counts: Float64Array;
  // typed arrays and plain (not #private) fields: the fastest shape on both V8 and JSC
  private readonly bounds: Float64Array;
  constructor(bounds: Float64Array) {
    this.bounds = bounds;
    this.counts = new Float64Array(bounds.length + 1);
  }
  observe(v: number): void {
    if (!Number.isFinite(v)) return;
    const bounds = this.bounds;
    const n = bounds.length;
    let i = 0;
    while (i < n && v > (bounds[i] as number)) i++;
    (this.counts[i] as number)++;
    this.count++;
    this.sum += v;
  }
}

export class HistogramFamily<L extends string = string> extends Family<L, HistogramChild> {
  readonly type = 'histogram' as const;
  readonly buckets: readonly number[];
  readonly #bounds: Float64Array;
  readonly #leLabels: readonly Readonly<Record<string, string>>[];

  constructor(config: HistogramConfig<L>) {
    super(config);
    if ((config.labelNames ?? []).includes('le' as L)) throw new Error(`"le" is reserved on ${config.name}`);
    const b = config.buckets;
    if (b.length === 0) throw new Error(`${config.name}: no buckets`);
    for (let i = 0; i < b.length; i++) {
      if (!Number.isFinite(b[i]) || (i > 0 && (b[i] as number) <= (b[i - 1] as number))) {
        throw new Error(`${config.name}: buckets must be finite and strictly increasing`);
      }
    }
    this.buckets = Object.freeze([...b]);
    this.#bounds = Float64Array.from(b);
    this.#leLabels = [...b.map((x) => ({ le: String(x) })), { le: '+Inf' }].map((l) => Object.freeze(l));
  }

  protected newChild(): HistogramChild {
    return new HistogramCell(this.#bounds);
  }
  observe(labels: LabelValues<L>, v: number): void {
    this.bind(labels).observe(v);
  }
  reset(): void {
    for (const s of this.series.values()) {
      const c = s.child as HistogramCell;
      c.count = 0;
      c.sum = 0;
      c.counts.fill(0);
    }
  }
  protected collectValues(): PromMetricObject {
    const values: PromValue[] = [];
    const bucketName = `${this.name}_bucket`;
    const sumName = `${this.name}_sum`;
    const countName = `${this.name}_count`;
    for (const s of this.series.values()) {
      const c = s.child as HistogramCell;
      let acc = 0;
      for (let i = 0; i < c.counts.length; i++) {
        acc += c.counts[i] as number;
        values.push({
          value: acc,
          labels: this.#leLabels[i] as Record<string, string>,
          sharedLabels: s.labels,
          metricName: bucketName,
        });
      }
      values.push({ value: c.sum, labels: {}, sharedLabels: s.labels, metricName: sumName });
      values.push({ value: c.count, labels: {}, sharedLabels: s.labels, metricName: countName });
    }
    return this.header(values);
  }
}

export type AnyFamily = CounterFamily<string> | GaugeFamily<string> | HistogramFamily<string>;

/**
 * Registers a family, or returns the one already registered under the same name when it has
 * the same type and labels (several components share e.g. weft_rejected_total). A clash with a
 * different metric is a programming error and throws at construction time.
 */
export function registerFamily<F extends AnyFamily>(registry: MetricsRegistry, family: F): F {
  const existing = registry.getSingleMetric(family.name) as unknown;
  if (existing !== undefined) {
    if (
      existing instanceof Family &&
      existing.type === family.type &&
      sameLabels(existing.labelNames, family.labelNames) &&
      (!(existing instanceof HistogramFamily) ||
        sameNumbers(existing.buckets, (family as HistogramFamily<string>).buckets))
    ) {
      return existing as F;
    }
    throw new Error(`metric ${family.name} is already registered with a different definition`);
  }
  // prom-client types registerMetric for its own classes; the registry only uses the
  // collection contract (name, help, type, aggregator, get/getForPromString, reset).
  registry.registerMetric(family as unknown as Parameters<Registry['registerMetric']>[0]);
  return family;
}

export function counterFamily<L extends string>(
  registry: MetricsRegistry,
  config: FamilyConfig<L>,
): CounterFamily<L> {
  return registerFamily(registry, new CounterFamily<L>(config));
}

export function gaugeFamily<L extends string>(
  registry: MetricsRegistry,
  config: FamilyConfig<L>,
): GaugeFamily<L> {
  return registerFamily(registry, new GaugeFamily<L>(config));
}

export function histogramFamily<L extends string>(
  registry: MetricsRegistry,
  config: HistogramConfig<L>,
): HistogramFamily<L> {
  return registerFamily(registry, new HistogramFamily<L>(config));
}

function sameLabels(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function sameNumbers(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
