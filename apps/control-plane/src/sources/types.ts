// The contract every config source implements. A source turns some outside truth (a folder of
// manifests, a Kubernetes API server) into batches of changes to raw Kubernetes-shaped objects.
// Sources check only shape (is it an object with apiVersion, kind and metadata.name?); what the
// objects mean is @weft/policy's business.

/** `metadata` of an object, as found on the wire. Only `name` is guaranteed by a source. */
export interface ObjectMeta {
  readonly name: string;
  readonly namespace?: string;
  readonly uid?: string;
  readonly resourceVersion?: string;
  readonly generation?: number;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly [field: string]: unknown;
}

/** A Kubernetes-shaped object as plain JSON: what `kubectl get -o json` prints. */
export interface KubeObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: ObjectMeta;
  readonly spec?: unknown;
  readonly status?: unknown;
  readonly [field: string]: unknown;
}

/**
 * One change. `key` is `objectKey(object)`: group/kind/namespace/name, so the same object served at
 * two versions of its API group is one object. For `delete`, `object` is the last known state.
 */
export type ObjectChange =
  | { readonly type: 'add'; readonly key: string; readonly object: KubeObject }
  | { readonly type: 'update'; readonly key: string; readonly object: KubeObject }
  | { readonly type: 'delete'; readonly key: string; readonly object: KubeObject };

export type ChangeType = ObjectChange['type'];

/** Changes a source observed together (one relist, one debounced folder scan, one watch chunk). */
export interface ChangeBatch {
  /** `ConfigSource.name` of the emitting source. */
  readonly source: string;
  readonly changes: readonly ObjectChange[];
}

export type SourceErrorReason =
  /** a file or document could not be parsed (bad YAML/JSON) */
  | 'parse'
  /** parsed, but not a Kubernetes-shaped object (missing kind, metadata.name, ...) */
  | 'invalid-object'
  /** the same object (key) is defined twice; the first definition wins */
  | 'duplicate'
  /** a file could not be read, or is too large */
  | 'read'
  /** the folder or file watcher failed; rescans continue */
  | 'watch'
  /** a LIST request failed */
  | 'list'
  /** a WATCH request or stream failed */
  | 'stream'
  /** the API server does not serve this resource (CRD not installed): retried */
  | 'not-installed';

/** A boundary error as a value: names the file/document/field or the resource it is about. */
export interface SourceError {
  readonly source: string;
  readonly reason: SourceErrorReason;
  readonly message: string;
  /** FileSource: path relative to the watched folder */
  readonly file?: string;
  /** FileSource: 0-based index of the YAML document in the file */
  readonly document?: number;
  /** the offending field, as a dotted path (`metadata.name`, `items[2].kind`) */
  readonly field?: string;
  /** FileSource: 1-based line and column of a parse error, counted from the start of the file */
  readonly line?: number;
  readonly column?: number;
  /** KubernetesSource: `group/version/plural` */
  readonly resource?: string;
  /** KubernetesSource: HTTP status or Status.code */
  readonly code?: number;
}

export type SourcePhase = 'starting' | 'syncing' | 'synced' | 'degraded' | 'stopped';

/** Per-resource state of a KubernetesSource; per-folder state of a FileSource. */
export interface SourceResourceStatus {
  /** `group/version/plural` or the folder path */
  readonly resource: string;
  readonly state: 'pending' | 'listing' | 'watching' | 'backoff' | 'not-installed' | 'stopped';
  readonly synced: boolean;
  readonly objects: number;
  readonly resourceVersion?: string;
  readonly lastError?: string;
  readonly retries: number;
}

export interface SourceStatus {
  readonly source: string;
  readonly phase: SourcePhase;
  readonly synced: boolean;
  readonly objects: number;
  readonly resources: readonly SourceResourceStatus[];
}

/** Numbers a source exposes for metrics (weftd maps them to Prometheus counters). */
export interface SourceCounters {
  /** batches emitted */
  readonly batches: number;
  readonly changes: number;
  /** errors by reason; the total is their sum */
  readonly errors: Readonly<Record<SourceErrorReason, number>>;
  /** KubernetesSource: LIST requests made (first list and relists) */
  readonly lists: number;
  /** KubernetesSource: watch requests made */
  readonly watches: number;
  /** FileSource: files (re)parsed */
  readonly filesRead: number;
  /** FileSource: full rescans */
  readonly rescans: number;
}

export type SourceEvent =
  | { readonly type: 'changes'; readonly batch: ChangeBatch }
  /**
   * The initial state is complete: every object that existed when the source started has been
   * delivered in an earlier batch. Emitted once. (FileSource always emits a first batch, possibly
   * empty, before it; KubernetesSource emits no batch for resources that list empty.)
   */
  | { readonly type: 'synced' }
  | { readonly type: 'error'; readonly error: SourceError }
  | { readonly type: 'status'; readonly status: SourceStatus };

export type SourceListener = (event: SourceEvent) => void;

/**
 * A source of raw objects. `start` may be called once; the listener receives every event in order
 * and must not throw (a throwing listener is caught and the error is dropped). `stop` releases
 * every watcher, socket and timer; no event is delivered after it resolves.
 */
export interface ConfigSource {
  readonly name: string;
  start(listener: SourceListener): Promise<void>;
  stop(): Promise<void>;
  status(): SourceStatus;
  counters(): SourceCounters;
}
