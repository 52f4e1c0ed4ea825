// An in-process Kubernetes API server for tests: the read side of the real list/watch protocol,
// kept honest about what a real server rejects. Writes happen through methods (create, update,
// remove, install a CRD, compact history, drop connections), never over HTTP.
//
// Protocol served (GET only):
//   /api, /apis, /api/v1, /apis/<group>/<version>               discovery
//   .../<plural>, .../namespaces/<ns>/<plural>                   LIST, or WATCH with ?watch=true
//   .../<plural>/<name>, .../namespaces/<ns>/<plural>/<name>     GET one object
// LIST: {kind: <Kind>List, apiVersion, metadata: {resourceVersion, continue?}, items}; items of
// built-in types carry no kind/apiVersion (as from a real server), CRD items do. `limit` and
// `continue` page through one consistent snapshot.
// WATCH: newline-delimited {type, object}; without resourceVersion (or "0") the current objects
// come first as ADDED; with one, history after it is replayed, or, if it is older than the retained
// window, an ERROR event with a 410 Expired Status (or an HTTP 410, see `tooOldWatch`).
// BOOKMARK events only with allowWatchBookmarks=true; timeoutSeconds ends the stream cleanly.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { KubeObject } from '../sources/types.ts';

export interface FakeResource {
  /** '' for the core group */
  readonly group: string;
  readonly version: string;
  readonly kind: string;
  readonly plural: string;
  readonly namespaced: boolean;
  /** built-in types are served from typed storage: their list items lack kind/apiVersion */
  readonly builtin?: boolean;
}

export const CORE_FAKE_RESOURCES: readonly FakeResource[] = [
  { group: '', version: 'v1', kind: 'Namespace', plural: 'namespaces', namespaced: false, builtin: true },
  { group: '', version: 'v1', kind: 'Pod', plural: 'pods', namespaced: true, builtin: true },
  { group: '', version: 'v1', kind: 'Service', plural: 'services', namespaced: true, builtin: true },
  {
    group: '',
    version: 'v1',
    kind: 'ServiceAccount',
    plural: 'serviceaccounts',
    namespaced: true,
    builtin: true,
  },
];

export interface FakeApiServerOptions {
  /** installed at start (default CORE_FAKE_RESOURCES) */
  readonly resources?: readonly FakeResource[];
  /** if set, every request needs `Authorization: Bearer <token>` */
  readonly token?: string;
  /** how many events the server keeps for watch replay; older ones are compacted (default 1000) */
  readonly retainEvents?: number;
  /**
   * How a watch from a compacted resourceVersion is refused: an ERROR event carrying a 410 Status
   * on a 200 stream (what current servers do), or an HTTP 410 response (older servers).
   */
  readonly tooOldWatch?: 'error-event' | 'http-410';
  /** used when a watch has no timeoutSeconds (default 1800, like --min-request-timeout) */
  readonly defaultWatchTimeoutSeconds?: number;
  /** objects in namespaces that do not exist are refused, as NamespaceLifecycle does (default true) */
  readonly requireNamespaces?: boolean;
}

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
  /** 'list' | 'watch' | 'get' | 'discovery' | 'other' */
  readonly verb: string;
  readonly status: number;
}

interface HistoryEvent {
  readonly rv: number;
  readonly resource: string;
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED';
  readonly object: KubeObject;
  readonly previous: KubeObject | undefined;
}

interface Selector {
  readonly namespace: string | undefined;
  readonly labels: readonly LabelRequirement[];
  readonly fields: readonly FieldRequirement[];
}

type LabelRequirement = { key: string; op: '=' | '!=' | 'exists' | '!exists'; value?: string };
type FieldRequirement = { field: 'metadata.name' | 'metadata.namespace'; op: '=' | '!='; value: string };

interface Watcher {
  readonly resource: string;
  readonly selector: Selector;
  readonly bookmarks: boolean;
  readonly res: ServerResponse;
  readonly socket: Socket;
  timer: ReturnType<typeof setTimeout> | undefined;
}

interface Snapshot {
  readonly rv: number;
  readonly items: readonly KubeObject[];
}

type Status = { code: number; reason: string; message: string };

class HttpError extends Error {
  readonly status: Status;
  constructor(code: number, reason: string, message: string) {
    super(message);
    this.status = { code, reason, message };
  }
}

export class FakeApiServer {
  readonly url: string;
  readonly requests: RecordedRequest[] = [];
  private readonly server: Server;
  private readonly options: Required<Omit<FakeApiServerOptions, 'token' | 'resources'>> & { token?: string };
  private readonly resources = new Map<string, FakeResource>();
  /** resource id -> "ns/name" -> object */
  private readonly objects = new Map<string, Map<string, KubeObject>>();
  private readonly history: HistoryEvent[] = [];
  private readonly watchers = new Set<Watcher>();
  private readonly sockets = new Set<Socket>();
  private readonly snapshots = new Map<string, Snapshot>();
  private failures: {
    count: number;
    status: number;
    match: (r: { verb: string; path: string }) => boolean;
  }[] = [];
  private rv = 1;
  private compacted = 0;
  private uidSeq = 0;

  private constructor(server: Server, url: string, options: FakeApiServerOptions) {
    this.server = server;
    this.url = url;
    this.options = {
      retainEvents: options.retainEvents ?? 1000,
      tooOldWatch: options.tooOldWatch ?? 'error-event',
      defaultWatchTimeoutSeconds: options.defaultWatchTimeoutSeconds ?? 1800,
      requireNamespaces: options.requireNamespaces ?? true,
      ...(options.token !== undefined ? { token: options.token } : {}),
    };
    for (const r of options.resources ?? CORE_FAKE_RESOURCES) this.install(r);
  }

  static async start(options: FakeApiServerOptions = {}): Promise<FakeApiServer> {
    let fake: FakeApiServer | undefined;
    const server = createServer((req, res) => fake?.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    fake = new FakeApiServer(server, `http://127.0.0.1:${port}`, options);
    server.on('connection', (socket) => {
      fake?.sockets.add(socket);
      socket.on('close', () => fake?.sockets.delete(socket));
    });
    return fake;
  }

  /** The latest resourceVersion (etcd revision), shared by every resource. */
  get resourceVersion(): string {
    return String(this.rv);
  }

  /** Oldest resourceVersion a watch can still start from. */
  get compactedResourceVersion(): string {
    return String(this.compacted);
  }

  // --- state, written by tests ----------------------------------------------------------------

  /** Serves a resource (a CRD being installed). */
  install(resource: FakeResource): void {
    const id = resourceId(resource.group, resource.version, resource.plural);
    this.resources.set(id, resource);
    // Versions of one group/kind share storage, as in a real server.
    if (!this.objects.has(storageId(resource))) this.objects.set(storageId(resource), new Map());
  }

  /** Stops serving a resource (CRD deleted): its objects are deleted and its watches end. */
  uninstall(group: string, version: string, plural: string): void {
    const id = resourceId(group, version, plural);
    const resource = this.resources.get(id);
    if (resource === undefined) return;
    for (const object of [...(this.objects.get(storageId(resource))?.values() ?? [])]) {
      this.remove(object.apiVersion, object.kind, object.metadata.namespace, object.metadata.name);
    }
    this.resources.delete(id);
    for (const w of [...this.watchers]) if (w.resource === id) this.endWatch(w);
  }

  create(object: KubeObject): KubeObject {
    const resource = this.resourceFor(object);
    const store = this.objects.get(storageId(resource)) as Map<string, KubeObject>;
    const namespace = object.metadata.namespace;
    if (resource.namespaced && (namespace === undefined || namespace === '')) {
      throw new Error(`${object.kind} ${object.metadata.name}: namespace required`);
    }
    if (!resource.namespaced && namespace !== undefined) {
      throw new Error(`${object.kind} ${object.metadata.name}: cluster-scoped, no namespace allowed`);
    }
    if (
      resource.namespaced &&
      this.options.requireNamespaces &&
      this.get('v1', 'Namespace', undefined, namespace ?? '') === undefined
    ) {
      throw new Error(`namespace "${namespace}" not found`);
    }
    const key = objectId(namespace, object.metadata.name);
    if (store.has(key)) throw new Error(`${object.kind} ${key} already exists`);
    const rv = ++this.rv;
    const stored = clone({
      ...object,
      apiVersion: apiVersionOf(resource),
      metadata: {
        ...object.metadata,
        uid: `uid-${++this.uidSeq}-${randomUUID().slice(0, 8)}`,
        resourceVersion: String(rv),
        generation: 1,
        creationTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      },
    });
    store.set(key, stored);
    this.record({ rv, resource: storageId(resource), type: 'ADDED', object: stored, previous: undefined });
    return stored;
  }

  update(object: KubeObject): KubeObject {
    const resource = this.resourceFor(object);
    const store = this.objects.get(storageId(resource)) as Map<string, KubeObject>;
    const key = objectId(object.metadata.namespace, object.metadata.name);
    const previous = store.get(key);
    if (previous === undefined) throw new Error(`${object.kind} ${key} not found`);
    const rv = ++this.rv;
    const specChanged = JSON.stringify(previous.spec) !== JSON.stringify(object.spec);
    const stored = clone<KubeObject>({
      ...object,
      apiVersion: apiVersionOf(resource),
      metadata: {
        ...object.metadata,
        uid: previous.metadata.uid ?? '',
        creationTimestamp: previous.metadata.creationTimestamp,
        resourceVersion: String(rv),
        generation: (previous.metadata.generation ?? 1) + (specChanged ? 1 : 0),
      },
    });
    store.set(key, stored);
    this.record({ rv, resource: storageId(resource), type: 'MODIFIED', object: stored, previous });
    return stored;
  }

  /** Creates or updates. */
  apply(object: KubeObject): KubeObject {
    const existing = this.get(
      object.apiVersion,
      object.kind,
      object.metadata.namespace,
      object.metadata.name,
    );
    return existing === undefined ? this.create(object) : this.update(object);
  }

  remove(apiVersion: string, kind: string, namespace: string | undefined, name: string): boolean {
    const resource = this.resourceFor({ apiVersion, kind, metadata: { name } });
    const store = this.objects.get(storageId(resource)) as Map<string, KubeObject>;
    const key = objectId(namespace, name);
    const previous = store.get(key);
    if (previous === undefined) return false;
    store.delete(key);
    const rv = ++this.rv;
    // The DELETED event carries the object at the deletion's resourceVersion.
    const object = clone({ ...previous, metadata: { ...previous.metadata, resourceVersion: String(rv) } });
    this.record({ rv, resource: storageId(resource), type: 'DELETED', object, previous });
    return true;
  }

  get(apiVersion: string, kind: string, namespace: string | undefined, name: string): KubeObject | undefined {
    const resource = this.findResource(apiVersion, kind);
    if (resource === undefined) return undefined;
    return this.objects.get(storageId(resource))?.get(objectId(namespace, name));
  }

  /** Forgets history up to `resourceVersion` (default: all of it), as etcd compaction does. */
  compact(resourceVersion: number = this.rv): void {
    this.compacted = Math.max(this.compacted, Math.min(resourceVersion, this.rv));
    while (this.history.length > 0 && (this.history[0] as HistoryEvent).rv <= this.compacted)
      this.history.shift();
  }

  /** Sends a BOOKMARK at the current resourceVersion to every watch that allowed bookmarks. */
  bookmark(): number {
    let sent = 0;
    for (const w of this.watchers) {
      if (!w.bookmarks) continue;
      const resource = this.resources.get(w.resource);
      if (resource === undefined) continue;
      this.send(w, 'BOOKMARK', {
        kind: resource.kind,
        apiVersion: apiVersionOf(resource),
        metadata: { resourceVersion: String(this.rv) },
      });
      sent++;
    }
    return sent;
  }

  /** Cuts every watch connection without a clean end (network failure). */
  dropWatches(): number {
    const n = this.watchers.size;
    for (const w of [...this.watchers]) {
      this.forget(w);
      w.socket.destroy();
    }
    return n;
  }

  /**
   * Leaves every watch connection open but silent forever, even past its timeoutSeconds: what a
   * client sees when the peer vanished without closing the connection.
   */
  stallWatches(): number {
    const n = this.watchers.size;
    for (const w of [...this.watchers]) this.forget(w);
    return n;
  }

  /** Writes `line` (plus a newline) as-is to every watch on `plural`: for malformed-stream tests. */
  sendRaw(plural: string, line: string): number {
    let n = 0;
    for (const w of this.watchers) {
      if (!w.resource.endsWith(`/${plural}`) || w.res.writableEnded || w.socket.destroyed) continue;
      w.res.write(`${line}\n`);
      n++;
    }
    return n;
  }

  /** Ends every watch cleanly (as timeoutSeconds would). */
  closeWatches(): number {
    const n = this.watchers.size;
    for (const w of [...this.watchers]) this.endWatch(w);
    return n;
  }

  /** Watches open now, optionally only those on `plural`. */
  activeWatches(plural?: string): number {
    let n = 0;
    for (const w of this.watchers) if (plural === undefined || w.resource.endsWith(`/${plural}`)) n++;
    return n;
  }

  /** The next `count` requests matching `match` fail with `status` (default: every list/watch). */
  failNext(
    count: number,
    status: number,
    match: (r: { verb: string; path: string }) => boolean = () => true,
  ): void {
    this.failures.push({ count, status, match });
  }

  /** Requests of one verb, optionally on one resource plural. */
  count(verb: string, plural?: string): number {
    return this.requests.filter(
      (r) => r.verb === verb && (plural === undefined || r.path.endsWith(`/${plural}`)),
    ).length;
  }

  async close(): Promise<void> {
    this.dropWatches();
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // --- HTTP -----------------------------------------------------------------------------------

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://fake');
    const query = Object.fromEntries(url.searchParams);
    let verb = 'other';
    const log = (status: number): void => {
      this.requests.push({ method: req.method ?? '', path: url.pathname, query, verb, status });
    };
    try {
      if (this.options.token !== undefined && req.headers.authorization !== `Bearer ${this.options.token}`) {
        throw new HttpError(401, 'Unauthorized', 'Unauthorized');
      }
      // What the request asks for; a path that does not route keeps this guess in the log.
      verb = parseBool(query, 'watch') ? 'watch' : 'list';
      const route = this.route(url.pathname);
      if (route.kind !== 'collection') verb = route.kind;
      if (req.method !== 'GET') {
        throw new HttpError(
          405,
          'MethodNotAllowed',
          `the fake API server serves GET only, not ${req.method}`,
        );
      }
      const failure = this.failures.find((f) => f.count > 0 && f.match({ verb, path: url.pathname }));
      if (failure !== undefined) {
        failure.count--;
        throw new HttpError(failure.status, 'InternalError', `injected failure ${failure.status}`);
      }
      switch (route.kind) {
        case 'discovery':
          log(200);
          json(res, 200, route.body);
          return;
        case 'get': {
          const object = this.objects
            .get(storageId(route.resource))
            ?.get(objectId(route.namespace, route.name));
          if (object === undefined) {
            throw new HttpError(404, 'NotFound', `${route.resource.plural} "${route.name}" not found`);
          }
          log(200);
          json(res, 200, object);
          return;
        }
        case 'collection':
          if (verb === 'watch') {
            this.watch(route.resource, route.namespace, url.searchParams, req, res);
            log(res.statusCode);
            return;
          }
          json(res, 200, this.list(route.resource, route.namespace, url.searchParams));
          log(200);
          return;
        default:
          assertNever(route);
      }
    } catch (err) {
      const status =
        err instanceof HttpError ? err.status : { code: 500, reason: 'InternalError', message: String(err) };
      log(status.code);
      json(res, status.code, statusObject(status));
    }
  }

  private route(
    pathname: string,
  ):
    | { kind: 'discovery'; body: unknown }
    | { kind: 'collection'; resource: FakeResource; namespace: string | undefined }
    | { kind: 'get'; resource: FakeResource; namespace: string | undefined; name: string } {
    const notFound = (): HttpError =>
      new HttpError(404, 'NotFound', 'the server could not find the requested resource');
    const segs = pathname.split('/').slice(1);
    if (segs.some((s) => s === '')) {
      if (pathname === '/') throw notFound();
      throw notFound();
    }
    let group: string;
    let version: string;
    let rest: string[];
    if (segs[0] === 'api') {
      if (segs.length === 1) return { kind: 'discovery', body: { kind: 'APIVersions', versions: ['v1'] } };
      group = '';
      version = segs[1] as string;
      rest = segs.slice(2);
    } else if (segs[0] === 'apis') {
      if (segs.length === 1) return { kind: 'discovery', body: this.groupList() };
      if (segs.length === 2) throw notFound();
      group = segs[1] as string;
      version = segs[2] as string;
      rest = segs.slice(3);
    } else {
      throw notFound();
    }
    const served = [...this.resources.values()].filter((r) => r.group === group && r.version === version);
    if (served.length === 0) throw notFound();
    if (rest.length === 0) {
      return {
        kind: 'discovery',
        body: {
          kind: 'APIResourceList',
          apiVersion: 'v1',
          groupVersion: group === '' ? version : `${group}/${version}`,
          resources: served.map((r) => ({
            name: r.plural,
            namespaced: r.namespaced,
            kind: r.kind,
            verbs: ['get', 'list', 'watch'],
          })),
        },
      };
    }
    const find = (plural: string): FakeResource => {
      const r = served.find((x) => x.plural === plural);
      if (r === undefined) throw notFound();
      return r;
    };
    if (rest[0] === 'namespaces' && rest.length >= 3) {
      const [, namespace, plural, name, ...sub] = rest as [string, string, string, string?, ...string[]];
      const resource = find(plural);
      if (!resource.namespaced || sub.length > 0) throw notFound();
      return name === undefined
        ? { kind: 'collection', resource, namespace }
        : { kind: 'get', resource, namespace, name };
    }
    const [plural, name, ...sub] = rest as [string, string?, ...string[]];
    const resource = find(plural);
    if (sub.length > 0) throw notFound();
    if (name === undefined) return { kind: 'collection', resource, namespace: undefined };
    // /api/v1/pods/x is not a path: namespaced objects live under namespaces/<ns>/.
    if (resource.namespaced) throw notFound();
    return { kind: 'get', resource, namespace: undefined, name };
  }

  private groupList(): unknown {
    const groups = new Map<string, string[]>();
    for (const r of this.resources.values()) {
      if (r.group === '') continue;
      const versions = groups.get(r.group) ?? [];
      if (!versions.includes(r.version)) versions.push(r.version);
      groups.set(r.group, versions);
    }
    return {
      kind: 'APIGroupList',
      apiVersion: 'v1',
      groups: [...groups].map(([name, versions]) => ({
        name,
        versions: versions.map((v) => ({ groupVersion: `${name}/${v}`, version: v })),
        preferredVersion: { groupVersion: `${name}/${versions[0]}`, version: versions[0] },
      })),
    };
  }

  private list(resource: FakeResource, namespace: string | undefined, params: URLSearchParams): unknown {
    const rvParam = params.get('resourceVersion') ?? '';
    const rv = parseResourceVersion(rvParam);
    const match = params.get('resourceVersionMatch') ?? '';
    const token = params.get('continue') ?? '';
    const limit = parseUint(params, 'limit') ?? 0;
    parseUint(params, 'timeoutSeconds');
    parseBool(params, 'allowWatchBookmarks');
    const selector = parseSelector(namespace, params);
    if (params.has('sendInitialEvents')) {
      throw invalid('sendInitialEvents', 'sendInitialEvents is forbidden for list');
    }
    if (match !== '') {
      if (rvParam === '')
        throw invalid(
          'resourceVersionMatch',
          'resourceVersionMatch is forbidden unless resourceVersion is provided',
        );
      if (token !== '')
        throw invalid('resourceVersionMatch', 'resourceVersionMatch is forbidden when continue is provided');
      if (match !== 'Exact' && match !== 'NotOlderThan')
        throw invalid('resourceVersionMatch', `unsupported value "${match}"`);
      if (match === 'Exact' && rvParam === '0')
        throw invalid('resourceVersionMatch', 'Exact is forbidden for resourceVersion "0"');
    }
    if (token !== '' && rvParam !== '' && rvParam !== '0') {
      throw new HttpError(
        400,
        'BadRequest',
        'specifying resource version is not allowed when using continue',
      );
    }
    if (rv !== undefined && rv > this.rv) {
      throw new HttpError(504, 'Timeout', `Too large resource version: ${rv}, current: ${this.rv}`);
    }
    if (match === 'Exact' && rv !== this.rv) {
      if (rv !== undefined && rv < this.compacted)
        throw expired(`too old resource version: ${rv} (${this.compacted})`);
      throw new HttpError(
        500,
        'InternalError',
        'the fake API server cannot list at a past resourceVersion (Exact)',
      );
    }

    const snapshotKey = (at: number): string =>
      `${resourceId(resource.group, resource.version, resource.plural)}@${at}@${JSON.stringify(selector)}`;
    let snapshot: Snapshot;
    let start = 0;
    if (token !== '') {
      const decoded = decodeContinue(token);
      if (decoded.rv < this.compacted) {
        throw expired('the continue token is too old: start a new list without it');
      }
      const kept = this.snapshots.get(snapshotKey(decoded.rv));
      if (kept === undefined) throw expired('the continue token is too old: start a new list without it');
      snapshot = kept;
      start = decoded.start;
    } else {
      const items = [...(this.objects.get(storageId(resource))?.values() ?? [])]
        .filter((o) => matches(selector, o))
        .sort((a, b) =>
          compareStrings(
            objectId(a.metadata.namespace, a.metadata.name),
            objectId(b.metadata.namespace, b.metadata.name),
          ),
        )
        .map((o) => (resource.builtin ? withoutTypeMeta(o) : { ...o, apiVersion: apiVersionOf(resource) }));
      snapshot = { rv: this.rv, items };
    }
    const end = limit > 0 ? Math.min(snapshot.items.length, start + limit) : snapshot.items.length;
    const metadata: Record<string, unknown> = { resourceVersion: String(snapshot.rv) };
    if (end < snapshot.items.length) {
      this.snapshots.set(snapshotKey(snapshot.rv), snapshot);
      while (this.snapshots.size > 50) this.snapshots.delete(this.snapshots.keys().next().value as string);
      metadata.continue = encodeContinue({ rv: snapshot.rv, start: end });
      metadata.remainingItemCount = snapshot.items.length - end;
    }
    return {
      kind: `${resource.kind}List`,
      apiVersion: apiVersionOf(resource),
      metadata,
      items: snapshot.items.slice(start, end),
    };
  }

  private watch(
    resource: FakeResource,
    namespace: string | undefined,
    params: URLSearchParams,
    req: IncomingMessage,
    res: ServerResponse,
  ): void {
    const rvParam = params.get('resourceVersion') ?? '';
    const rv = parseResourceVersion(rvParam);
    const bookmarks = parseBool(params, 'allowWatchBookmarks');
    const timeout = parseUint(params, 'timeoutSeconds') ?? this.options.defaultWatchTimeoutSeconds;
    parseUint(params, 'limit');
    const selector = parseSelector(namespace, params);
    if (params.has('continue') && params.get('continue') !== '') {
      throw invalid('continue', 'continue is not allowed for watch');
    }
    if (params.has('sendInitialEvents')) {
      throw invalid(
        'sendInitialEvents',
        'sendInitialEvents is forbidden: the WatchList feature is not served',
      );
    }
    if (params.has('resourceVersionMatch')) {
      throw invalid(
        'resourceVersionMatch',
        'resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided',
      );
    }
    const tooOld = rv !== undefined && rv !== 0 && rv < this.compacted;
    const message = `too old resource version: ${rv} (${this.compacted})`;
    if (tooOld && this.options.tooOldWatch === 'http-410') throw expired(message);

    const socket = req.socket;
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    // A real server sends the headers at once: the client knows the watch is up before any event.
    res.flushHeaders();
    const id = resourceId(resource.group, resource.version, resource.plural);
    const watcher: Watcher = { resource: id, selector, bookmarks, res, socket, timer: undefined };
    if (tooOld) {
      this.send(watcher, 'ERROR', statusObject({ code: 410, reason: 'Expired', message }));
      res.end();
      return;
    }
    const store = storageId(resource);
    if (rv === undefined || rv === 0) {
      // "Start at most recent" (no resourceVersion) and "any" ("0"): current state first.
      const current = [...(this.objects.get(store)?.values() ?? [])].filter((o) => matches(selector, o));
      for (const o of current) this.send(watcher, 'ADDED', { ...o, apiVersion: apiVersionOf(resource) });
    } else {
      for (const e of this.history) if (e.rv > rv && e.resource === store) this.deliver(watcher, resource, e);
    }
    this.watchers.add(watcher);
    watcher.timer = setTimeout(() => this.endWatch(watcher), timeout * 1000);
    const forget = (): void => this.forget(watcher);
    res.on('close', forget);
    socket.on('close', forget);
  }

  private record(event: HistoryEvent): void {
    this.history.push(event);
    while (this.history.length > this.options.retainEvents) {
      this.compacted = (this.history.shift() as HistoryEvent).rv;
    }
    for (const w of this.watchers) {
      const resource = this.resources.get(w.resource);
      if (resource !== undefined && storageId(resource) === event.resource) this.deliver(w, resource, event);
    }
  }

  /** Sends one history event to a watcher, translating selector moves into ADDED/DELETED. */
  private deliver(w: Watcher, resource: FakeResource, e: HistoryEvent): void {
    const now = matches(w.selector, e.object);
    const before = e.previous !== undefined && matches(w.selector, e.previous);
    const object = { ...e.object, apiVersion: apiVersionOf(resource) };
    if (e.type === 'ADDED' && now) this.send(w, 'ADDED', object);
    else if (e.type === 'DELETED' && before) this.send(w, 'DELETED', object);
    else if (e.type === 'MODIFIED') {
      if (now && before) this.send(w, 'MODIFIED', object);
      else if (now) this.send(w, 'ADDED', object);
      else if (before) this.send(w, 'DELETED', object);
    }
  }

  private send(w: Watcher, type: string, object: unknown): void {
    if (w.res.writableEnded || w.socket.destroyed) return;
    w.res.write(`${JSON.stringify({ type, object })}\n`);
  }

  private endWatch(w: Watcher): void {
    this.forget(w);
    if (!w.res.writableEnded) w.res.end();
  }

  private forget(w: Watcher): void {
    if (w.timer !== undefined) clearTimeout(w.timer);
    this.watchers.delete(w);
  }

  private resourceFor(object: Pick<KubeObject, 'apiVersion' | 'kind' | 'metadata'>): FakeResource {
    const resource = this.findResource(object.apiVersion, object.kind);
    if (resource === undefined) throw new Error(`no resource serves ${object.apiVersion} ${object.kind}`);
    return resource;
  }

  private findResource(apiVersion: string, kind: string): FakeResource | undefined {
    const slash = apiVersion.lastIndexOf('/');
    const group = slash < 0 ? '' : apiVersion.slice(0, slash);
    const version = apiVersion.slice(slash + 1);
    const all = [...this.resources.values()].filter((r) => r.group === group && r.kind === kind);
    return all.find((r) => r.version === version) ?? all[0];
  }
}

// --- helpers ----------------------------------------------------------------------------------

function resourceId(group: string, version: string, plural: string): string {
  return `${group}/${version}/${plural}`;
}

function storageId(r: FakeResource): string {
  return `${r.group}/${r.plural}`;
}

function apiVersionOf(r: FakeResource): string {
  return r.group === '' ? r.version : `${r.group}/${r.version}`;
}

function objectId(namespace: string | undefined, name: string): string {
  return `${namespace ?? ''}/${name}`;
}

function withoutTypeMeta(o: KubeObject): KubeObject {
  const { apiVersion: _a, kind: _k, ...rest } = o;
  return rest as unknown as KubeObject;
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A plain-JSON copy: stored objects never alias what the test passed in. */
function clone<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

function statusObject(s: Status): unknown {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: s.message,
    reason: s.reason,
    code: s.code,
  };
}

function json(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function invalid(field: string, message: string): HttpError {
  return new HttpError(
    422,
    'Invalid',
    `ListOptions.meta.k8s.io "" is invalid: ${field}: Forbidden: ${message}`,
  );
}

function expired(message: string): HttpError {
  return new HttpError(410, 'Expired', message);
}

/** '' -> undefined; otherwise an unsigned integer, as etcd revisions are. */
function parseResourceVersion(value: string): number | undefined {
  if (value === '') return undefined;
  if (!/^\d{1,15}$/.test(value))
    throw new HttpError(400, 'BadRequest', `invalid resource version "${value}"`);
  return Number(value);
}

function parseUint(params: URLSearchParams, name: string): number | undefined {
  const value = params.get(name);
  if (value === null || value === '') return undefined;
  if (!/^\d{1,15}$/.test(value)) throw new HttpError(400, 'BadRequest', `${name}: invalid value "${value}"`);
  return Number(value);
}

function parseBool(params: URLSearchParams | Record<string, string>, name: string): boolean {
  const value = params instanceof URLSearchParams ? params.get(name) : params[name];
  if (value === null || value === undefined || value === '') return false;
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  throw new HttpError(400, 'BadRequest', `${name}: invalid boolean "${value}"`);
}

function parseSelector(namespace: string | undefined, params: URLSearchParams): Selector {
  const labels: LabelRequirement[] = [];
  for (const part of splitSelector(params.get('labelSelector'))) {
    const equality = part.match(/^([\w./-]+)\s*(!=|==|=)\s*([\w.-]*)$/);
    const existence = part.match(/^(!?)([\w./-]+)$/);
    if (equality !== null) {
      labels.push({
        key: equality[1] as string,
        op: equality[2] === '!=' ? '!=' : '=',
        value: equality[3] as string,
      });
    } else if (existence !== null) {
      labels.push({ key: existence[2] as string, op: existence[1] === '!' ? '!exists' : 'exists' });
    } else {
      throw new HttpError(400, 'BadRequest', `unable to parse requirement: "${part}"`);
    }
  }
  const fields: FieldRequirement[] = [];
  for (const part of splitSelector(params.get('fieldSelector'))) {
    const m = part.match(/^([\w.]+)\s*(!=|==|=)\s*([\w.-]*)$/);
    if (m === null) throw new HttpError(400, 'BadRequest', `invalid field selector: "${part}"`);
    const field = m[1] as string;
    if (field !== 'metadata.name' && field !== 'metadata.namespace') {
      throw new HttpError(400, 'BadRequest', `field label not supported: ${field}`);
    }
    fields.push({ field, op: m[2] === '!=' ? '!=' : '=', value: m[3] as string });
  }
  return { namespace, labels, fields };
}

function splitSelector(value: string | null): string[] {
  if (value === null || value.trim() === '') return [];
  return value.split(',').map((s) => s.trim());
}

function matches(selector: Selector, o: KubeObject): boolean {
  if (selector.namespace !== undefined && o.metadata.namespace !== selector.namespace) return false;
  const labels = o.metadata.labels ?? {};
  for (const r of selector.labels) {
    const has = Object.hasOwn(labels, r.key);
    const value = labels[r.key];
    if (r.op === 'exists' && !has) return false;
    if (r.op === '!exists' && has) return false;
    if (r.op === '=' && value !== r.value) return false;
    if (r.op === '!=' && value === r.value) return false;
  }
  for (const f of selector.fields) {
    const value = f.field === 'metadata.name' ? o.metadata.name : (o.metadata.namespace ?? '');
    if ((f.op === '=') !== (value === f.value)) return false;
  }
  return true;
}

function encodeContinue(token: { rv: number; start: number }): string {
  return Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', rv: token.rv, start: token.start })).toString(
    'base64url',
  );
}

function decodeContinue(token: string): { rv: number; start: number } {
  try {
    const value = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as Record<string, unknown>;
    if (value.v === 'meta.k8s.io/v1' && Number.isSafeInteger(value.rv) && Number.isSafeInteger(value.start)) {
      return { rv: value.rv as number, start: value.start as number };
    }
  } catch {
    // fall through
  }
  throw new HttpError(400, 'BadRequest', 'continue key is not valid');
}

function assertNever(value: never): never {
  throw new Error(`unexpected ${JSON.stringify(value)}`);
}
