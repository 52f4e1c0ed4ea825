// One resource type kept in sync with the API server: @kubernetes/client-node's ListWatch, with
// the parts it lacks written around it.
//
// What ListWatch (client-node 1.4) does well and we keep: the object cache keyed by
// namespace/name, the diff after a relist (objects missing from the new list become deletes,
// changed resourceVersions become updates), relisting when a watch answers 410 (HTTP status or
// ERROR event), and advancing its resourceVersion on every event including BOOKMARKs.
//
// What it lacks, and where it is added:
// - it never asks for bookmarks nor sets timeoutSeconds: `InformerWatch` (a Watch subclass)
//   adds allowWatchBookmarks=true and a randomised timeoutSeconds, as client-go does;
// - on any error other than 410 (API server down, 404 for a CRD that is not installed, 403,
//   500) it emits 'error' and stops for good: `onFailure` restarts it after a capped exponential
//   backoff with jitter; a 404 is reported once as "not installed" and counts as synced-empty;
// - a watch that ends cleanly is re-opened at once, with no pacing: `openWatch` waits a backoff
//   step when the previous watch ended within a second of starting;
// - its Watch drops the 30 s request timeout it creates, so a silently dead connection hangs
//   forever: a deadline aborts every watch that outlives timeoutSeconds by a grace period;
// - no signal that the first list is done, and one callback per object: changes are collected
//   and flushed as one batch per relist (at the moment ListWatch opens its watch, i.e. right
//   after applying the list) and one batch per chunk of watch events;
// - items of typed lists come without kind/apiVersion and malformed objects would throw inside
//   its callbacks: `normalize` fills the type in, rejects objects without metadata.name (counted)
//   and freezes what it passes on;
// - list pagination: `list` pages with limit/continue and restarts when a continue token expires.
import {
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  ListWatch,
  Watch,
} from '@kubernetes/client-node';
import {
  Backoff,
  type BackoffOptions,
  type Clock,
  type Scheduler,
  sleep,
  type TimerHandle,
} from '@weft/telemetry';
import type { Counters } from './counters.ts';
import { getJson, KubeRequestError } from './kube-http.ts';
import { apiVersionOf, collectionPath, type ResourceType, resourceName } from './kubernetes-resources.ts';
import { deepFreeze, errorMessage } from './manifest.ts';
import { objectKey } from './object-key.ts';
import type { KubeObject, ObjectChange, SourceError, SourceResourceStatus } from './types.ts';

export interface InformerSettings {
  readonly kubeConfig: KubeConfig;
  readonly clock: Clock & Scheduler;
  readonly backoff: BackoffOptions;
  /** base watch timeout; each watch asks for a random value in [base, 2 × base) */
  readonly watchTimeoutSeconds: number;
  /** extra time a watch may stay open past its timeoutSeconds before it is presumed dead */
  readonly watchGraceMs: number;
  readonly listPageSize: number;
  readonly requestTimeoutMs: number;
  readonly random: () => number;
}

export interface InformerEvents {
  changes(changes: ObjectChange[]): void;
  /** the first list completed (or the resource is not installed) */
  synced(): void;
  error(error: Omit<SourceError, 'source'>): void;
  /** the state in status() changed */
  state(): void;
}

type State = SourceResourceStatus['state'];
type WatchCallback = (phase: string, apiObj: unknown, watchObj?: unknown) => void;
type DoneCallback = (err: unknown) => void;
type WatchParams = Record<string, string | number | boolean | undefined>;

/** Lets the informer decorate every watch ListWatch opens. */
class InformerWatch extends Watch {
  private readonly informer: ResourceInformer;

  constructor(kubeConfig: KubeConfig, informer: ResourceInformer) {
    super(kubeConfig);
    this.informer = informer;
  }

  override watch(
    path: string,
    query: WatchParams,
    callback: WatchCallback,
    done: DoneCallback,
  ): Promise<AbortController> {
    return this.informer.openWatch(query, callback, done, (q, cb, d) => super.watch(path, q, cb, d));
  }
}

export class ResourceInformer {
  readonly resource: ResourceType;
  readonly name: string;
  private readonly settings: InformerSettings;
  private readonly events: InformerEvents;
  private readonly counters: Counters;
  private readonly backoff: Backoff;
  private readonly listWatch: ListWatch<KubernetesObject>;
  private readonly stopSignal = new AbortController();

  private state: State = 'pending';
  private synced = false;
  private stopped = false;
  private objects = 0;
  private lastError: string | undefined;
  /** the API server answered 404 for this resource; cleared by the next successful list */
  private notInstalled = false;
  /** a LIST is in flight (failures are then list failures, not stream ones) */
  private listing = false;
  private pending: ObjectChange[] = [];
  private flushQueued = false;
  private justListed = false;
  private watchStartedAt: number | undefined;
  private retryTimer: TimerHandle | undefined;
  private deadline: TimerHandle | undefined;
  private currentWatch: AbortController | undefined;

  constructor(
    resource: ResourceType,
    settings: InformerSettings,
    events: InformerEvents,
    counters: Counters,
  ) {
    this.resource = resource;
    this.name = resourceName(resource);
    this.settings = settings;
    this.events = events;
    this.counters = counters;
    // client-go's pacing: 500 ms doubling to 30 s, jittered only downwards so the cap stays a cap.
    this.backoff = new Backoff({ initialMs: 500, jitterSide: 'below', ...settings.backoff }, settings.random);
    const watch = new InformerWatch(settings.kubeConfig, this);
    this.listWatch = new ListWatch(collectionPath(resource), watch, () => this.list(), false);
    this.listWatch.on('add', (o) => this.queue('add', o));
    this.listWatch.on('update', (o) => this.queue('update', o));
    this.listWatch.on('delete', (o) => this.queue('delete', o));
    this.listWatch.on('error', (err) => this.onFailure(err));
  }

  start(): void {
    this.restart();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.stopSignal.abort();
    this.retryTimer?.cancel();
    this.deadline?.cancel();
    await this.listWatch.stop();
    this.currentWatch?.abort();
    this.pending = [];
    this.setState('stopped');
  }

  status(): SourceResourceStatus {
    const resourceVersion = this.listWatch.latestResourceVersion();
    return {
      resource: this.name,
      state: this.state,
      synced: this.synced,
      objects: this.objects,
      retries: this.backoff.attempts,
      ...(resourceVersion !== '' ? { resourceVersion } : {}),
      ...(this.lastError !== undefined ? { lastError: this.lastError } : {}),
    };
  }

  get isSynced(): boolean {
    return this.synced;
  }

  // --- LIST -----------------------------------------------------------------------------------

  private async list(): Promise<KubernetesListObject<KubernetesObject>> {
    // A resource known to be absent stays 'not-installed' while it is probed.
    if (!this.notInstalled) this.setState('listing');
    this.listing = true;
    this.counters.values.lists++;
    const path = collectionPath(this.resource);
    // A continue token can expire (410) while paging through a large list: start over.
    for (let attempt = 0; ; attempt++) {
      const items: KubernetesObject[] = [];
      let resourceVersion: string | undefined;
      let token: string | undefined;
      try {
        do {
          const query: Record<string, string> = { limit: String(this.settings.listPageSize) };
          if (token !== undefined) query.continue = token;
          const page = (await getJson(this.settings.kubeConfig, path, {
            query,
            timeoutMs: this.settings.requestTimeoutMs,
            signal: this.stopSignal.signal,
          })) as { metadata?: { resourceVersion?: unknown; continue?: unknown }; items?: unknown };
          if (!Array.isArray(page.items))
            throw new KubeRequestError(200, `LIST ${path}: the answer has no items array`);
          if (resourceVersion === undefined) {
            resourceVersion =
              typeof page.metadata?.resourceVersion === 'string' ? page.metadata.resourceVersion : '';
          }
          for (const item of page.items) {
            const object = this.normalize(item, 'list');
            if (object !== undefined) items.push(object as unknown as KubernetesObject);
          }
          const next = page.metadata?.continue;
          token = typeof next === 'string' && next !== '' ? next : undefined;
        } while (token !== undefined);
      } catch (err) {
        if (token !== undefined && err instanceof KubeRequestError && err.statusCode === 410 && attempt < 3)
          continue;
        throw err;
      }
      this.listing = false;
      this.notInstalled = false;
      this.justListed = true;
      this.backoff.reset();
      return { metadata: { resourceVersion: resourceVersion ?? '' }, items };
    }
  }

  // --- WATCH ----------------------------------------------------------------------------------

  /** Called by ListWatch (through InformerWatch) after each list and for every re-watch. */
  async openWatch(
    query: WatchParams,
    callback: WatchCallback,
    done: DoneCallback,
    open: (query: WatchParams, callback: WatchCallback, done: DoneCallback) => Promise<AbortController>,
  ): Promise<AbortController> {
    // ListWatch has applied a list (if it made one) synchronously before calling us.
    this.flush();
    if (!this.synced && this.justListed) this.markSynced();
    const listed = this.justListed;
    this.justListed = false;
    const clock = this.settings.clock;
    if (!listed && this.watchStartedAt !== undefined && clock.now() - this.watchStartedAt < 1000) {
      // The previous watch ended right after it began: pace the reconnects.
      this.setState('backoff');
      await sleep(clock, this.backoff.next(), this.stopSignal.signal);
    }
    if (this.stopped) return abortedController();

    const timeoutSeconds = Math.floor(this.settings.watchTimeoutSeconds * (1 + this.settings.random()));
    const params: WatchParams = { ...query, allowWatchBookmarks: true, timeoutSeconds };
    this.counters.values.watches++;
    this.watchStartedAt = clock.now();
    let ended = false;
    const onEvent: WatchCallback = (phase, object, watchObj) => {
      if (ended || this.stopped) return;
      this.onWatchEvent(phase, object, watchObj, callback);
    };
    const onDone: DoneCallback = (err) => {
      if (ended) return;
      ended = true;
      this.deadline?.cancel();
      this.deadline = undefined;
      this.flush();
      done(err);
    };
    const controller = await open(params, onEvent, onDone);
    if (this.stopped) {
      controller.abort();
      return controller;
    }
    this.currentWatch = controller;
    if (!ended) {
      // The answer headers are in: the watch is established.
      this.setState('watching');
      this.deadline = clock.schedule(timeoutSeconds * 1000 + this.settings.watchGraceMs, () => {
        this.deadline = undefined;
        this.lastError = `watch open past timeoutSeconds=${timeoutSeconds}: presumed dead`;
        controller.abort();
      });
    }
    return controller;
  }

  private onWatchEvent(phase: string, object: unknown, watchObj: unknown, callback: WatchCallback): void {
    switch (phase) {
      case 'ADDED':
      case 'MODIFIED':
      case 'DELETED': {
        const normalized = this.normalize(object, 'watch');
        if (normalized === undefined) return;
        // A watch that delivers is a healthy watch.
        this.backoff.reset();
        callback(phase, normalized, watchObj);
        if (!this.flushQueued) {
          // Events of one network chunk arrive in one tick: one batch for all of them.
          this.flushQueued = true;
          queueMicrotask(() => {
            this.flushQueued = false;
            this.flush();
          });
        }
        return;
      }
      case 'BOOKMARK':
        callback(phase, object, watchObj);
        return;
      case 'ERROR': {
        const status = (object ?? {}) as { code?: unknown; message?: unknown; reason?: unknown };
        // 410 Expired is the protocol asking for a relist, which ListWatch does; anything else
        // is worth a report (the stream usually ends next and is re-opened from the same version).
        if (status.code !== 410) {
          this.reportError(
            'stream',
            `watch ERROR event: ${String(status.reason ?? '')} ${String(status.message ?? '')}`.trim(),
            status.code,
          );
        }
        callback(phase, object, watchObj);
        return;
      }
      default:
        this.reportError('stream', `watch event of unknown type "${phase}" ignored`);
    }
  }

  // --- failures and restarts --------------------------------------------------------------------

  private onFailure(err: unknown): void {
    if (this.stopped) return;
    this.flush();
    const code = statusCodeOf(err);
    const clock = this.settings.clock;
    const inList = this.listing;
    this.listing = false;
    if (code === 404) {
      if (!this.notInstalled) {
        this.notInstalled = true;
        this.reportError(
          'not-installed',
          `${this.name} is not served by the API server (CRD not installed?); retrying`,
          404,
        );
      }
      this.setState('not-installed');
      // Nothing to wait for: an absent resource has no objects.
      if (!this.synced) this.markSynced();
    } else {
      const what = inList ? 'list' : 'stream';
      const message = isAbort(err) && this.lastError !== undefined ? this.lastError : errorMessage(err);
      this.reportError(what, `${what === 'list' ? 'LIST' : 'WATCH'} ${this.name}: ${message}`, code);
      this.setState('backoff');
    }
    const delay = this.backoff.next();
    this.retryTimer = clock.schedule(delay, () => {
      this.retryTimer = undefined;
      this.restart();
    });
  }

  private restart(): void {
    if (this.stopped) return;
    // ListWatch.start relists if it has no resourceVersion yet, else re-watches from it.
    this.listWatch.start().catch((err: unknown) => this.onFailure(err));
  }

  // --- changes --------------------------------------------------------------------------------

  private queue(type: ObjectChange['type'], raw: KubernetesObject): void {
    const object = raw as unknown as KubeObject;
    if (type === 'add') this.objects++;
    if (type === 'delete') this.objects--;
    this.pending.push({ type, key: objectKey(object), object });
  }

  private flush(): void {
    if (this.pending.length === 0 || this.stopped) return;
    const changes = this.pending;
    this.pending = [];
    this.events.changes(changes);
  }

  private markSynced(): void {
    this.synced = true;
    this.events.synced();
  }

  /** Fills in kind/apiVersion (absent from typed list items), checks metadata.name, freezes. */
  private normalize(raw: unknown, from: 'list' | 'watch'): KubeObject | undefined {
    const o = raw as {
      apiVersion?: unknown;
      kind?: unknown;
      metadata?: { name?: unknown; namespace?: unknown };
    } | null;
    const name = o?.metadata?.name;
    const namespace = o?.metadata?.namespace;
    if (
      typeof o !== 'object' ||
      o === null ||
      typeof name !== 'string' ||
      name === '' ||
      name.includes('/') ||
      (namespace !== undefined && typeof namespace !== 'string')
    ) {
      this.reportError(
        'invalid-object',
        `${from} ${this.name}: an object without a valid metadata.name was ignored`,
      );
      return undefined;
    }
    const typed =
      o.kind === this.resource.kind && o.apiVersion === apiVersionOf(this.resource)
        ? o
        : { ...o, apiVersion: apiVersionOf(this.resource), kind: this.resource.kind };
    return deepFreeze(typed) as unknown as KubeObject;
  }

  private reportError(reason: SourceError['reason'], message: string, code?: unknown): void {
    this.lastError = message;
    this.events.error({
      reason,
      message,
      resource: this.name,
      ...(typeof code === 'number' ? { code } : {}),
    });
  }

  private setState(state: State): void {
    if (this.state === state) return;
    this.state = state;
    this.events.state();
  }
}

function statusCodeOf(err: unknown): number | undefined {
  const e = err as { statusCode?: unknown; code?: unknown } | null;
  if (typeof e?.statusCode === 'number') return e.statusCode;
  if (typeof e?.code === 'number') return e.code;
  return undefined;
}

function isAbort(err: unknown): boolean {
  return (err as { name?: unknown } | null)?.name === 'AbortError';
}

function abortedController(): AbortController {
  const c = new AbortController();
  c.abort();
  return c;
}
