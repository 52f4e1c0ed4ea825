// Kubernetes as a config source: one informer per resource type (see kubernetes-informer.ts for
// what is taken from @kubernetes/client-node and what is added around it).
import type { KubeConfig } from '@kubernetes/client-node';
import type { BackoffOptions, Clock, Scheduler } from '@weft/telemetry';
import { Counters } from './counters.ts';
import { ResourceInformer } from './kubernetes-informer.ts';
import { type ResourceType, WEFT_RESOURCES } from './kubernetes-resources.ts';
import { systemTime } from './system-time.ts';
import type {
  ConfigSource,
  SourceCounters,
  SourceError,
  SourceEvent,
  SourceListener,
  SourcePhase,
  SourceStatus,
} from './types.ts';

export interface KubernetesSourceOptions {
  /** cluster and credentials: `kc.loadFromDefault()` (in-cluster or ~/.kube/config) or `loadFromCluster()` */
  readonly kubeConfig: KubeConfig;
  /** default WEFT_RESOURCES (core types + Istio security/networking + Gateway API) */
  readonly resources?: readonly ResourceType[];
  /** default 'kubernetes' */
  readonly name?: string;
  /** reads the time and runs the watch deadlines and retry timers (default the system's) */
  readonly clock?: Clock & Scheduler;
  /** retry pacing after failures (default 500 ms doubling to 30 s, up to 20 % less for jitter) */
  readonly backoff?: BackoffOptions;
  /** each watch asks for timeoutSeconds in [this, 2 × this) (default 300, as client-go) */
  readonly watchTimeoutSeconds?: number;
  /** a watch still open this long after its timeoutSeconds is presumed dead and cut (default 30 000) */
  readonly watchGraceMs?: number;
  /** LIST page size (default 500) */
  readonly listPageSize?: number;
  /** timeout of one LIST page request, ms (default 60 000) */
  readonly requestTimeoutMs?: number;
  /** random source in [0, 1) for jitter (default Math.random) */
  readonly random?: () => number;
}

export class KubernetesSource implements ConfigSource {
  readonly name: string;
  private readonly options: KubernetesSourceOptions;
  private readonly counters_ = new Counters();
  private informers: ResourceInformer[] = [];
  private listener: SourceListener | undefined;
  private started = false;
  private stopped = false;
  private synced = false;

  constructor(options: KubernetesSourceOptions) {
    this.options = options;
    this.name = options.name ?? 'kubernetes';
  }

  /** Starts one informer per resource and returns; `synced` follows when every first list is in. */
  async start(listener: SourceListener): Promise<void> {
    if (this.started) throw new Error(`${this.name}: start called twice`);
    this.started = true;
    this.listener = listener;
    const o = this.options;
    const settings = {
      kubeConfig: o.kubeConfig,
      clock: o.clock ?? systemTime,
      backoff: o.backoff ?? {},
      watchTimeoutSeconds: o.watchTimeoutSeconds ?? 300,
      watchGraceMs: o.watchGraceMs ?? 30_000,
      listPageSize: o.listPageSize ?? 500,
      requestTimeoutMs: o.requestTimeoutMs ?? 60_000,
      random: o.random ?? Math.random,
    };
    this.informers = (o.resources ?? WEFT_RESOURCES).map(
      (resource) =>
        new ResourceInformer(
          resource,
          settings,
          {
            changes: (changes) => {
              this.counters_.values.batches++;
              this.counters_.values.changes += changes.length;
              this.emit({ type: 'changes', batch: { source: this.name, changes } });
            },
            synced: () => this.checkSynced(),
            error: (error) => {
              this.counters_.error(error.reason);
              const full: SourceError = { source: this.name, ...error };
              this.emit({ type: 'error', error: full });
            },
            state: () => this.emit({ type: 'status', status: this.status() }),
          },
          this.counters_,
        ),
    );
    for (const informer of this.informers) informer.start();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await Promise.all(this.informers.map((i) => i.stop()));
    this.emit({ type: 'status', status: this.status() });
    this.listener = undefined;
  }

  status(): SourceStatus {
    const resources = this.informers.map((i) => i.status());
    const degraded = resources.some((r) => r.state === 'backoff');
    const phase: SourcePhase = this.stopped
      ? 'stopped'
      : !this.started
        ? 'starting'
        : !this.synced
          ? 'syncing'
          : degraded
            ? 'degraded'
            : 'synced';
    return {
      source: this.name,
      phase,
      synced: this.synced,
      objects: resources.reduce((n, r) => n + r.objects, 0),
      resources,
    };
  }

  counters(): SourceCounters {
    return this.counters_.snapshot();
  }

  private checkSynced(): void {
    if (this.synced || !this.informers.every((i) => i.isSynced)) return;
    this.synced = true;
    this.emit({ type: 'synced' });
    this.emit({ type: 'status', status: this.status() });
  }

  private emit(event: SourceEvent): void {
    const listener = this.listener;
    if (listener === undefined) return;
    try {
      listener(event);
    } catch {
      // A listener bug must not stop the informers.
    }
  }
}
