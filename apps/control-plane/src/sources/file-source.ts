// A folder of YAML/JSON manifests as a config source.
//
// fs events are hints, not truth. They are lost or never sent in ordinary situations: the inotify
// queue overflows under bursts (IN_Q_OVERFLOW drops events), watch limits run out (ENOSPC),
// network and overlay filesystems send nothing for remote writes, a directory created between a
// scan and its watcher misses its first files, and Kubernetes ConfigMap volumes change by swapping
// a `..data` symlink. So the source reacts to events quickly (debounced: editors write a file in
// several steps) and also rescans the whole tree periodically, comparing stat results, so that a
// lost event delays a change but never loses it.
import { createHash } from 'node:crypto';
import type { Stats } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join, resolve } from 'node:path';
import type { Clock, Scheduler, TimerHandle } from '@weft/telemetry';
import { Counters } from './counters.ts';
import { DirWatcher, resolveWatchMode, type WatchMode } from './dir-watcher.ts';
import { errorMessage, type ManifestError, parseManifests } from './manifest.ts';
import { objectKey } from './object-key.ts';
import { systemTime } from './system-time.ts';
import type {
  ConfigSource,
  KubeObject,
  ObjectChange,
  SourceCounters,
  SourceError,
  SourceEvent,
  SourceListener,
  SourceStatus,
} from './types.ts';

export interface FileSourceOptions {
  /** the folder to watch; nested folders are included */
  readonly dir: string;
  /** default `file:<dir>` */
  readonly name?: string;
  /** quiet time after the last fs event before files are re-read, ms (default 100) */
  readonly debounceMs?: number;
  /** upper bound on how long a stream of events can postpone a re-read, ms (default 10 × debounceMs) */
  readonly maxDelayMs?: number;
  /** full rescan period, ms; 0 disables (default 30 000). See the note at the top of this file. */
  readonly rescanIntervalMs?: number;
  /** default 'auto' (see DirWatcher); 'off' relies on rescans alone */
  readonly watch?: WatchMode;
  /** reads the time and runs the debounce and rescan timers (default the system's) */
  readonly clock?: Clock & Scheduler;
  /** namespace for namespaced objects without one (default 'default', as kubectl) */
  readonly defaultNamespace?: string;
  /** files larger than this are rejected with a 'read' error (default 4 MiB) */
  readonly maxFileBytes?: number;
  /** file extensions read, lower case (default .yaml, .yml, .json) */
  readonly extensions?: readonly string[];
}

interface FileState {
  /** stat fingerprint: inode, size, mtime, ctime */
  fingerprint: string;
  /** sha-256 of the content last parsed */
  digest: string;
  /** objects this file currently contributes, by key, in file order */
  objects: Map<string, KubeObject>;
  errors: readonly ManifestError[];
}

interface Owner {
  readonly file: string;
  readonly object: KubeObject;
}

interface ScanResult {
  readonly files: Map<string, Stats>;
  readonly dirs: Set<string>;
}

const DEFAULT_EXTENSIONS = ['.yaml', '.yml', '.json'];

export class FileSource implements ConfigSource {
  readonly name: string;
  private readonly root: string;
  private readonly clock: Clock & Scheduler;
  private readonly debounceMs: number;
  private readonly maxDelayMs: number;
  private readonly rescanIntervalMs: number;
  private readonly watchMode: WatchMode;
  private readonly defaultNamespace: string;
  private readonly maxFileBytes: number;
  private readonly extensions: ReadonlySet<string>;
  private readonly counters_ = new Counters();

  private listener: SourceListener | undefined;
  private watcher: DirWatcher | undefined;
  private started = false;
  private stopped = false;
  private synced = false;
  private published = false;
  private lastError: string | undefined;
  private watchFailed = false;
  private rootMissing = false;

  private readonly files = new Map<string, FileState>();
  private dirs = new Set<string>();
  private effective = new Map<string, Owner>();

  /** paths reported by fs events, waiting for the debounce */
  private readonly dirty = new Set<string>();
  private firstDirtyAt = 0;
  private debounceTimer: TimerHandle | undefined;
  private rescanTimer: TimerHandle | undefined;

  /** work released to the worker */
  private pendingPaths = new Set<string>();
  private pendingFull = false;
  private worker: Promise<void> | undefined;

  constructor(options: FileSourceOptions) {
    this.root = resolve(options.dir);
    this.name = options.name ?? `file:${options.dir}`;
    this.clock = options.clock ?? systemTime;
    this.debounceMs = Math.max(0, options.debounceMs ?? 100);
    this.maxDelayMs = Math.max(this.debounceMs, options.maxDelayMs ?? this.debounceMs * 10);
    this.rescanIntervalMs = Math.max(0, options.rescanIntervalMs ?? 30_000);
    this.watchMode = resolveWatchMode(options.watch ?? 'auto');
    this.defaultNamespace = options.defaultNamespace ?? 'default';
    this.maxFileBytes = options.maxFileBytes ?? 4 * 1024 * 1024;
    this.extensions = new Set((options.extensions ?? DEFAULT_EXTENSIONS).map((e) => e.toLowerCase()));
  }

  async start(listener: SourceListener): Promise<void> {
    if (this.started) throw new Error(`${this.name}: start called twice`);
    this.started = true;
    this.listener = listener;
    // Watch before the first scan: an edit made during the scan then shows up as an event.
    this.watcher = new DirWatcher(this.root, this.watchMode, {
      onChange: (path) => this.onFsEvent(path),
      onError: (dir, err) => {
        this.watchFailed = true;
        this.report({
          reason: 'watch',
          file: dir,
          message: `${this.name}: watching "${dir || '.'}": ${errorMessage(err)}`,
        });
      },
    });
    this.watcher.sync(new Set(['']));
    this.pendingFull = true;
    await this.kick();
    if (this.stopped) return;
    this.synced = true;
    this.emit({ type: 'synced' });
    this.emitStatus();
    this.scheduleRescan();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.debounceTimer?.cancel();
    this.rescanTimer?.cancel();
    this.watcher?.close();
    await this.worker;
    this.emitStatus();
    this.listener = undefined;
  }

  /** Rescans the whole tree now (what the periodic rescan does); resolves when its batch is out. */
  async resync(): Promise<void> {
    if (!this.started || this.stopped) return;
    this.pendingFull = true;
    await this.kick();
  }

  /** Paths reported by fs events and still waiting for the debounce (tests, /debug). */
  pending(): number {
    return this.dirty.size;
  }

  /** Resolves when no scan is running (tests). */
  async idle(): Promise<void> {
    while (this.worker !== undefined) await this.worker;
  }

  status(): SourceStatus {
    const phase = this.stopped
      ? 'stopped'
      : !this.synced
        ? 'syncing'
        : this.watchFailed && this.watchMode !== 'off'
          ? 'degraded'
          : 'synced';
    return {
      source: this.name,
      phase,
      synced: this.synced,
      objects: this.effective.size,
      resources: [
        {
          resource: this.root,
          state: this.stopped ? 'stopped' : this.synced ? 'watching' : 'listing',
          synced: this.synced,
          objects: this.effective.size,
          retries: 0,
          ...(this.lastError !== undefined ? { lastError: this.lastError } : {}),
        },
      ],
    };
  }

  counters(): SourceCounters {
    return this.counters_.snapshot();
  }

  // --- events and scheduling ------------------------------------------------------------------

  private onFsEvent(path: string): void {
    if (this.stopped) return;
    const now = this.clock.now();
    if (this.dirty.size === 0) this.firstDirtyAt = now;
    this.dirty.add(path);
    this.debounceTimer?.cancel();
    const wait = Math.max(0, Math.min(this.debounceMs, this.firstDirtyAt + this.maxDelayMs - now));
    this.debounceTimer = this.clock.schedule(wait, () => {
      this.debounceTimer = undefined;
      for (const p of this.dirty) this.pendingPaths.add(p);
      this.dirty.clear();
      void this.kick();
    });
  }

  private scheduleRescan(): void {
    if (this.rescanIntervalMs === 0 || this.stopped) return;
    this.rescanTimer = this.clock.schedule(this.rescanIntervalMs, () => {
      this.rescanTimer = undefined;
      this.pendingFull = true;
      void this.kick().then(() => this.scheduleRescan());
    });
  }

  /** Runs queued work, one scan at a time; returns the running worker. */
  private kick(): Promise<void> {
    if (this.worker === undefined) {
      this.worker = (async () => {
        try {
          while (!this.stopped && (this.pendingFull || this.pendingPaths.size > 0)) {
            const full = this.pendingFull;
            const paths = this.pendingPaths;
            this.pendingFull = false;
            this.pendingPaths = new Set();
            await this.process(full ? undefined : paths);
          }
        } finally {
          this.worker = undefined;
        }
      })();
    }
    return this.worker;
  }

  // --- scanning -------------------------------------------------------------------------------

  /** `paths` undefined: full rescan; otherwise the paths named by fs events. */
  private async process(paths: ReadonlySet<string> | undefined): Promise<void> {
    const changedFiles = new Set<string>();
    if (paths === undefined) {
      this.counters_.values.rescans++;
      await this.rescanUnder('', changedFiles);
    } else {
      for (const path of [...paths].sort()) await this.processPath(path, changedFiles);
    }
    if (this.stopped) return;
    this.watchFailed = false;
    this.watcher?.sync(this.dirs);
    this.publish(changedFiles);
  }

  private async processPath(path: string, changed: Set<string>): Promise<void> {
    const segments = path.split('/');
    const hidden = segments.findIndex((s) => s.startsWith('.'));
    if (path === '' || hidden >= 0) {
      // The root, or a hidden entry (editor temp files, ConfigMap `..data` swaps): rescan the
      // visible directory holding it, comparing stat results.
      await this.rescanUnder(hidden > 0 ? segments.slice(0, hidden).join('/') : '', changed);
      return;
    }
    let stats: Stats;
    try {
      stats = await stat(join(this.root, path));
    } catch {
      this.forgetUnder(path, changed);
      return;
    }
    if (stats.isDirectory()) {
      await this.rescanUnder(path, changed);
    } else if (stats.isFile() && this.accepts(path)) {
      // An event names this file: re-read it even if stat looks unchanged (mtime granularity).
      await this.readFile(path, stats, changed, true);
    } else {
      this.forgetUnder(path, changed);
    }
  }

  /** Walks `dir` (relative, '' = root) and reconciles every file below it by stat fingerprint. */
  private async rescanUnder(dir: string, changed: Set<string>): Promise<void> {
    const found = await this.walk(dir);
    for (const path of [...this.files.keys()]) {
      if (isUnder(path, dir) && !found.files.has(path)) this.removeFile(path, changed);
    }
    for (const d of [...this.dirs]) if (isUnder(d, dir) && !found.dirs.has(d)) this.dirs.delete(d);
    for (const d of found.dirs) this.dirs.add(d);
    for (const [path, stats] of [...found.files].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      await this.readFile(path, stats, changed, false);
    }
  }

  private async walk(dir: string): Promise<ScanResult> {
    const files = new Map<string, Stats>();
    const dirs = new Set<string>();
    const visit = async (rel: string): Promise<void> => {
      let entries: import('node:fs').Dirent[];
      try {
        entries = await readdir(rel === '' ? this.root : join(this.root, rel), { withFileTypes: true });
      } catch (err) {
        if (rel === '') this.reportRootMissing(err);
        return;
      }
      if (rel === '') this.rootMissing = false;
      dirs.add(rel);
      for (const entry of entries) {
        // Hidden entries are skipped: editor swap files, `.git`, ConfigMap `..data` internals
        // (the visible files there are symlinks into `..data`, followed below by stat).
        if (entry.name.startsWith('.')) continue;
        const path = rel === '' ? entry.name : `${rel}/${entry.name}`;
        if (entry.isDirectory()) {
          await visit(path);
        } else if ((entry.isFile() || entry.isSymbolicLink()) && this.accepts(path)) {
          try {
            const stats = await stat(join(this.root, path));
            // Symlinks to directories are not followed: no cycles to guard against.
            if (stats.isFile()) files.set(path, stats);
          } catch {
            // Dangling symlink or removed meanwhile: not a file.
          }
        }
      }
    };
    await visit(dir);
    return { files, dirs };
  }

  private forgetUnder(path: string, changed: Set<string>): void {
    for (const file of [...this.files.keys()]) if (isUnder(file, path)) this.removeFile(file, changed);
    for (const d of [...this.dirs]) if (d !== '' && isUnder(d, path)) this.dirs.delete(d);
  }

  private removeFile(path: string, changed: Set<string>): void {
    if (this.files.delete(path)) changed.add(path);
  }

  private async readFile(path: string, stats: Stats, changed: Set<string>, force: boolean): Promise<void> {
    const previous = this.files.get(path);
    const fingerprint = `${stats.ino}:${stats.size}:${stats.mtimeMs}:${stats.ctimeMs}`;
    if (!force && previous?.fingerprint === fingerprint) return;
    if (stats.size > this.maxFileBytes) {
      this.keepWithError(path, previous, fingerprint, changed, {
        reason: 'read',
        file: path,
        message: `${path}: ${stats.size} bytes is over the ${this.maxFileBytes} byte limit`,
      });
      return;
    }
    let text: string;
    try {
      text = await readFile(join(this.root, path), 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'EISDIR' || code === 'ENOTDIR') {
        this.removeFile(path, changed);
        return;
      }
      this.keepWithError(path, previous, fingerprint, changed, {
        reason: 'read',
        file: path,
        message: `${path}: ${errorMessage(err)}`,
      });
      return;
    }
    const digest = createHash('sha256').update(text).digest('hex');
    if (previous !== undefined && previous.digest === digest) {
      previous.fingerprint = fingerprint;
      return;
    }
    this.counters_.values.filesRead++;
    const parsed = parseManifests(text, path, { defaultNamespace: this.defaultNamespace });
    const objects = new Map<string, KubeObject>();
    const errors = [...parsed.errors];
    for (const object of parsed.objects) {
      const key = objectKey(object);
      if (objects.has(key)) {
        errors.push({
          reason: 'duplicate',
          file: path,
          message: `${path}: ${key} is defined twice in this file; the first definition wins`,
        });
        continue;
      }
      objects.set(key, object);
    }
    if (errors.length > 0 && previous !== undefined) {
      // A bad save must not wipe config: valid documents still update, but nothing this file
      // contributed before is removed until the file is clean again.
      for (const [key, object] of previous.objects) if (!objects.has(key)) objects.set(key, object);
    }
    this.files.set(path, { fingerprint, digest, objects, errors });
    changed.add(path);
    for (const error of errors) this.report(error);
  }

  private keepWithError(
    path: string,
    previous: FileState | undefined,
    fingerprint: string,
    changed: Set<string>,
    error: ManifestError,
  ): void {
    // Keep the last good objects; remember the fingerprint so the error is reported once per change.
    this.files.set(path, {
      fingerprint,
      digest: '',
      objects: previous?.objects ?? new Map(),
      errors: [error],
    });
    changed.add(path);
    this.report(error);
  }

  private reportRootMissing(err: unknown): void {
    // Once per disappearance, not once per rescan.
    if (this.rootMissing) return;
    this.rootMissing = true;
    this.report({
      reason: 'read',
      file: '',
      message: `${this.name}: cannot read the folder: ${errorMessage(err)}`,
    });
  }

  // --- diff and emit --------------------------------------------------------------------------

  /** Recomputes which file owns each key (first by path order wins) and emits the difference. */
  private publish(changedFiles: ReadonlySet<string>): void {
    const next = new Map<string, Owner>();
    for (const path of [...this.files.keys()].sort()) {
      const state = this.files.get(path) as FileState;
      for (const [key, object] of state.objects) {
        const owner = next.get(key);
        if (owner === undefined) {
          next.set(key, { file: path, object });
        } else if (changedFiles.has(path) || changedFiles.has(owner.file)) {
          this.report({
            reason: 'duplicate',
            file: path,
            message: `${path}: ${key} is already defined in ${owner.file}; that definition wins`,
          });
        }
      }
    }
    const changes: ObjectChange[] = [];
    for (const [key, owner] of this.effective) {
      if (!next.has(key)) changes.push({ type: 'delete', key, object: owner.object });
    }
    for (const [key, owner] of next) {
      const before = this.effective.get(key);
      if (before === undefined) changes.push({ type: 'add', key, object: owner.object });
      else if (before.object !== owner.object && !deepEqual(before.object, owner.object)) {
        changes.push({ type: 'update', key, object: owner.object });
      }
    }
    // Keep the old object references for unchanged content: readers can compare by identity.
    for (const [key, owner] of next) {
      const before = this.effective.get(key);
      if (before !== undefined && before.object !== owner.object && deepEqual(before.object, owner.object)) {
        next.set(key, { file: owner.file, object: before.object });
      }
    }
    this.effective = next;
    // The first scan always emits a batch, even empty: consumers compile once before `synced`.
    if (changes.length > 0 || !this.published) {
      this.published = true;
      this.counters_.values.batches++;
      this.counters_.values.changes += changes.length;
      this.emit({ type: 'changes', batch: { source: this.name, changes } });
    }
  }

  private accepts(path: string): boolean {
    return this.extensions.has(extname(path).toLowerCase());
  }

  private report(error: ManifestError): void {
    this.counters_.error(error.reason);
    this.lastError = error.message;
    const full: SourceError = { source: this.name, ...error };
    this.emit({ type: 'error', error: full });
  }

  private emitStatus(): void {
    this.emit({ type: 'status', status: this.status() });
  }

  private emit(event: SourceEvent): void {
    const listener = this.listener;
    if (listener === undefined) return;
    try {
      listener(event);
    } catch {
      // A listener bug must not stop the source; the consumer owns its own error reporting.
    }
  }
}

function isUnder(path: string, dir: string): boolean {
  return dir === '' || path === dir || path.startsWith(`${dir}/`);
}

/** Structural equality of JSON values (key order ignored). */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((v, i) => deepEqual(v, b[i]));
  }
  const ak = Object.keys(a);
  const bk = Object.keys(b);
  if (ak.length !== bk.length) return false;
  const br = b as Record<string, unknown>;
  const ar = a as Record<string, unknown>;
  return ak.every((k) => Object.hasOwn(br, k) && deepEqual(ar[k], br[k]));
}
