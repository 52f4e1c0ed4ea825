// weftd's metrics, all under the weft_ scheme (see @weft/telemetry): counters recorded as things
// happen, gauges refreshed from live state just before a scrape.
import type { CaMetrics } from '@weft/ca';
import {
  type CounterChild,
  createRegistry,
  type MetricsRegistry,
  type RejectCounter,
  rejectCounter,
  weftCounter,
  weftGauge,
  weftHistogram,
} from '@weft/telemetry';
import type { AdsServer } from '@weft/xds-protocol';
import type { AdminRejectReason } from './admin.ts';
import type { ConnectionRejectReason } from './grpc-server.ts';
import type { InjectionOutcome, InjectionRejectReason } from './injection/webhook.ts';

/** Everything weftd refuses, on weft_rejected_total{component="weftd", reason}. */
export type WeftdRejectReason =
  | 'config_invalid'
  | 'config_duplicate'
  | 'config_source'
  | 'xds_unauthenticated'
  | 'xds_bad_node'
  /** A part of a mesh object proxyless gRPC clients cannot honour (counted once per part). */
  | 'proxyless_unsupported'
  | ConnectionRejectReason
  | InjectionRejectReason
  | AdminRejectReason;

export class WeftdMetrics {
  readonly registry: MetricsRegistry;
  readonly rejected: RejectCounter<WeftdRejectReason>;
  private readonly compiles;
  private readonly compileSeconds;
  private readonly snapshots: CounterChild;
  private readonly encoded: CounterChild;
  private readonly objects;
  private readonly rejectedObjects;
  private readonly proxies;
  private readonly xdsCounters;
  private readonly caIssued: CounterChild;
  private readonly caRejected;
  private readonly injections;
  private lastAds = { acks: 0, nacks: 0, responses: 0 };
  private lastCa = { issued: 0, rejected: {} as Record<string, number> };

  constructor(registry: MetricsRegistry = createRegistry()) {
    this.registry = registry;
    this.rejected = rejectCounter<WeftdRejectReason>('weftd', registry);
    this.compiles = weftCounter(registry, {
      component: 'weftd',
      name: 'compiles',
      help: 'Policy compiles, by result.',
      labelNames: ['result'] as const,
    });
    this.compileSeconds = weftHistogram(registry, {
      component: 'weftd',
      name: 'compile_duration',
      unit: 'seconds',
      help: 'Time to compile every object into a snapshot.',
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    }).bind({});
    this.snapshots = weftCounter(registry, {
      component: 'weftd',
      name: 'snapshots',
      help: 'Snapshots published (compiles that changed something).',
    }).bind({});
    this.encoded = weftCounter(registry, {
      component: 'weftd',
      name: 'xds_resources_encoded',
      help: 'weft.v1 resources converted and encoded (only changed ones are).',
    }).bind({});
    this.objects = weftGauge(registry, {
      component: 'weftd',
      name: 'config_objects',
      help: 'Objects read from the config sources.',
    }).bind({});
    this.rejectedObjects = weftGauge(registry, {
      component: 'weftd',
      name: 'config_rejected_objects',
      help: 'Objects currently rejected (listed at /debug/config_status).',
    }).bind({});
    this.proxies = weftGauge(registry, {
      component: 'weftd',
      name: 'xds_connected_proxies',
      help: 'Connected ADS streams, by proxy kind.',
      labelNames: ['kind'] as const,
    });
    this.xdsCounters = weftCounter(registry, {
      component: 'weftd',
      name: 'xds_responses',
      help: 'ADS responses sent and their outcome (ack, nack, sent).',
      labelNames: ['outcome'] as const,
    });
    this.caIssued = weftCounter(registry, {
      component: 'ca',
      name: 'certificates_issued',
      help: 'Certificates signed.',
    }).bind({});
    this.caRejected = weftCounter(registry, {
      component: 'ca',
      name: 'certificate_requests_rejected',
      help: 'Certificate requests refused, by reason.',
      labelNames: ['reason'] as const,
    });
    this.injections = weftCounter(registry, {
      component: 'weftd',
      name: 'injections',
      help: 'Admission reviews answered by the injection webhook, by result (injected, skipped, denied).',
      labelNames: ['result'] as const,
    });
  }

  injection(result: InjectionOutcome): void {
    this.injections.inc({ result });
  }

  compiled(seconds: number, ok: boolean): void {
    this.compiles.inc({ result: ok ? 'ok' : 'error' });
    if (ok) this.compileSeconds.observe(seconds);
  }

  published(encoded: number): void {
    this.snapshots.inc();
    this.encoded.inc(encoded);
  }

  /** Refreshes gauges and mirrors the ADS server's and the CA's own counters (scrape time). */
  refresh(state: {
    objects: number;
    rejectedObjects: number;
    proxiesByKind: Readonly<Record<string, number>>;
    ads: AdsServer;
    ca: CaMetrics;
  }): void {
    this.objects.set(state.objects);
    this.rejectedObjects.set(state.rejectedObjects);
    for (const kind of ['ztunnel', 'waypoint', 'sidecar', 'unknown']) {
      this.proxies.bind({ kind }).set(state.proxiesByKind[kind] ?? 0);
    }
    const s = state.ads.stats();
    const delta = (now: number, before: number) => Math.max(0, now - before);
    this.xdsCounters.inc({ outcome: 'ack' }, delta(s.acks, this.lastAds.acks));
    this.xdsCounters.inc({ outcome: 'nack' }, delta(s.nacks, this.lastAds.nacks));
    this.xdsCounters.inc({ outcome: 'sent' }, delta(s.responses, this.lastAds.responses));
    this.lastAds = { acks: s.acks, nacks: s.nacks, responses: s.responses };
    const ca = state.ca.snapshot();
    this.caIssued.inc(delta(ca.issued, this.lastCa.issued));
    for (const [reason, n] of Object.entries(ca.rejected)) {
      const before = this.lastCa.rejected[reason] ?? 0;
      if (n > before) this.caRejected.inc({ reason: reason.replace(/-/g, '_') }, n - before);
    }
    this.lastCa = { issued: ca.issued, rejected: { ...ca.rejected } };
  }
}
