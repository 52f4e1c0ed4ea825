// Weft's own metrics (everything that is not one of Istio's standard metrics).
//
// Name scheme:  weft_<component>_<subject>[_<unit>][_total]
//   component  the package or app that owns it: ztunnel, waypoint, sidecar, hbone, xds, ca,
//              policy, cni, weftd, ...        (lowercase, [a-z][a-z0-9]*)
//   subject    what is counted, snake_case: xds_pushes, connections_active, cert_rotations
//   unit       base units only: seconds, bytes (never ms or kb); none for plain counts
//   _total     on every counter, never on anything else
// Labels are snake_case and bounded (no ids, addresses or paths as label values).
// Cross-cutting families carry the component as a label instead of in the name; the first one
// is weft_rejected_total{component, reason}: every bad input a component refuses (a malformed
// resource, header, frame, certificate) is counted there by reason.

import {
  type CounterChild,
  type CounterFamily,
  counterFamily,
  type GaugeFamily,
  gaugeFamily,
  type HistogramFamily,
  histogramFamily,
} from './family.ts';
import { createRegistry, type MetricsRegistry } from './registry.ts';

export type MetricUnit = 'seconds' | 'bytes';

export interface WeftMetricSpec<L extends string> {
  readonly component: string;
  /** snake_case subject without prefix, unit or _total. */
  readonly name: string;
  readonly help: string;
  readonly unit?: MetricUnit | undefined;
  readonly labelNames?: readonly L[];
}

const COMPONENT = /^[a-z][a-z0-9]*$/;
const SUBJECT = /^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$/;
const LABEL = /^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$/;

/** The full metric name for a Weft metric; throws on names outside the scheme. */
export function weftMetricName(
  component: string,
  name: string,
  kind: 'counter' | 'gauge' | 'histogram',
  unit?: MetricUnit,
): string {
  if (!COMPONENT.test(component)) throw new Error(`metric component "${component}" must match ${COMPONENT}`);
  if (!SUBJECT.test(name)) throw new Error(`metric subject "${name}" must be snake_case`);
  if (name.startsWith('weft_') || name.endsWith('_total') || /_(seconds|bytes|ms|milliseconds)$/.test(name)) {
    throw new Error(`metric subject "${name}": no prefix, unit or _total (they are added)`);
  }
  const base = `weft_${component}_${name}${unit === undefined ? '' : `_${unit}`}`;
  return kind === 'counter' ? `${base}_total` : base;
}

function checkLabels(labelNames: readonly string[] | undefined): void {
  for (const l of labelNames ?? []) {
    if (!LABEL.test(l)) throw new Error(`metric label "${l}" must be snake_case`);
  }
}

export function weftCounter<L extends string = never>(
  registry: MetricsRegistry,
  spec: WeftMetricSpec<L>,
): CounterFamily<L> {
  checkLabels(spec.labelNames);
  return counterFamily(registry, {
    name: weftMetricName(spec.component, spec.name, 'counter', spec.unit),
    help: spec.help,
    labelNames: spec.labelNames ?? [],
  });
}

export function weftGauge<L extends string = never>(
  registry: MetricsRegistry,
  spec: WeftMetricSpec<L>,
): GaugeFamily<L> {
  checkLabels(spec.labelNames);
  return gaugeFamily(registry, {
    name: weftMetricName(spec.component, spec.name, 'gauge', spec.unit),
    help: spec.help,
    labelNames: spec.labelNames ?? [],
  });
}

export function weftHistogram<L extends string = never>(
  registry: MetricsRegistry,
  spec: WeftMetricSpec<L> & { readonly buckets: readonly number[] },
): HistogramFamily<L> {
  checkLabels(spec.labelNames);
  return histogramFamily(registry, {
    name: weftMetricName(spec.component, spec.name, 'histogram', spec.unit),
    help: spec.help,
    labelNames: spec.labelNames ?? [],
    buckets: spec.buckets,
  });
}

export const REJECTED_METRIC_NAME = 'weft_rejected_total';

/** Counts inputs a component refused, by reason: weft_rejected_total{component, reason}. */
export interface RejectCounter<R extends string = string> {
  readonly component: string;
  /** Counts one (or n) refusals; reasons are a closed set per component (snake_case). */
  reject(reason: R, n?: number): void;
  /** The bound child for a reason, for the hottest paths. */
  bind(reason: R): CounterChild;
  /** The current count for a reason (tests, status pages). */
  count(reason: R): number;
}

/**
 * The reject counter for one component, on the shared weft_rejected_total family of
 * `registry` (a private registry when absent, e.g. in unit tests).
 */
export function rejectCounter<R extends string = string>(
  component: string,
  registry: MetricsRegistry = createRegistry(),
): RejectCounter<R> {
  if (!COMPONENT.test(component)) throw new Error(`component "${component}" must match ${COMPONENT}`);
  const family = counterFamily(registry, {
    name: REJECTED_METRIC_NAME,
    help: 'Inputs refused by a Weft component, by reason.',
    labelNames: ['component', 'reason'] as const,
  });
  const children = new Map<string, CounterChild>();
  const bind = (reason: R): CounterChild => {
    let c = children.get(reason);
    if (c === undefined) {
      c = family.bind({ component, reason });
      children.set(reason, c);
    }
    return c;
  };
  return {
    component,
    reject: (reason, n = 1) => bind(reason).inc(n),
    bind,
    count: (reason) => children.get(reason)?.value ?? 0,
  };
}
