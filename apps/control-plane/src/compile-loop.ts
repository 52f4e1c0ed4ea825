// Sources -> ObjectStore -> (debounced) compile -> MeshSnapshot.
//
// Every changed object is validated on its own as it arrives. An invalid object is rejected alone:
// it is listed (with the field named), logged once and counted once per distinct problem, and the
// rest keeps compiling. When an object that was valid is replaced by an invalid version, the last
// valid version stays in force until the object is fixed or deleted: a broken edit of a DENY
// policy must not open what it denied.
import {
  type CompileOptions,
  type CompileResult,
  compile,
  formatValidationError,
  type MeshSnapshot,
  type ValidationError,
  validateObject,
} from '@weft/policy';
import type { Clock, Logger, Scheduler, TimerHandle } from '@weft/telemetry';
import {
  type ConfigSource,
  type KubeObject,
  ObjectStore,
  type ObjectStoreView,
  type SourceError,
  type SourceEvent,
  type SourceStatus,
} from './sources/index.ts';
import { systemTime } from './sources/system-time.ts';

export interface RejectedObject {
  /** Source key `group/kind/namespace/name`. */
  readonly key: string;
  readonly kind: string | undefined;
  readonly namespace: string | undefined;
  readonly name: string | undefined;
  readonly code: ValidationError['code'];
  /** The offending field, e.g. `spec.rules[0].from[0].source.principals[1]`. */
  readonly field: string;
  readonly message: string;
  /** One line: `Kind ns/name: field: message`. */
  readonly reason: string;
  readonly issues: ValidationError['issues'];
  /** When this problem was first seen (clock ms). */
  readonly since: number;
  /** True when an earlier valid version of the object is still being served. */
  readonly servingLastValid: boolean;
}

export interface ConfigStatus {
  readonly generation: number;
  readonly snapshotVersion: string | undefined;
  readonly compiledAt: number | undefined;
  readonly objects: number;
  readonly rejected: readonly RejectedObject[];
  /** Objects of kinds the mesh does not read (ignored, not errors). */
  readonly ignored: readonly { readonly key: string; readonly message: string }[];
  /** Used with a problem (unresolved reference, conflict, ignored part). */
  readonly warnings: readonly string[];
  /** Recent source errors (unparsable files, failed lists/watches), newest last. */
  readonly sourceErrors: readonly (SourceError & { readonly at: number })[];
  readonly sources: readonly SourceStatus[];
}

export interface CompiledSnapshot {
  readonly snapshot: MeshSnapshot;
  readonly result: CompileResult;
  readonly durationMs: number;
}

export interface CompileLoopEvents {
  /** A new snapshot (version differs from the previous one). */
  snapshot(compiled: CompiledSnapshot): void;
  /** A new rejection (counted once per distinct problem). */
  rejected?(rejected: RejectedObject): void;
  sourceError?(error: SourceError): void;
  /** Each compile, whether or not the snapshot changed. */
  compiled?(durationMs: number, ok: boolean): void;
}

export interface CompileLoopOptions {
  readonly sources: readonly ConfigSource[];
  readonly compile?: CompileOptions;
  /** Quiet time after the last change before compiling (default 50 ms). */
  readonly debounceMs?: number;
  /** A steady stream of changes compiles at least this often (default 500 ms). */
  readonly maxDelayMs?: number;
  /** Reads the time and runs the debounce timer. Default the system's. */
  readonly clock?: Clock & Scheduler;
  readonly logger: Logger;
  readonly events: CompileLoopEvents;
}

const MAX_SOURCE_ERRORS = 50;

interface ObjectState {
  /** The version compiled (the latest valid one), if any. */
  effective: KubeObject | undefined;
  rejected: RejectedObject | undefined;
  ignored: string | undefined;
}

export class CompileLoop {
  readonly store = new ObjectStore();
  private readonly options: CompileLoopOptions;
  private readonly clock: Clock & Scheduler;
  private readonly debounceMs: number;
  private readonly maxDelayMs: number;
  private readonly objects = new Map<string, ObjectState>();
  private readonly synced = new Set<string>();
  private readonly sourceErrors: (SourceError & { at: number })[] = [];
  /** Problems found by compile itself (duplicates), by signature, to log them once. */
  private compileErrors = new Map<string, RejectedObject>();
  private timer: TimerHandle | undefined;
  private firstPendingAt = 0;
  private dirty = false;
  private stopped = false;
  private last: CompiledSnapshot | undefined;
  private compiledAt: number | undefined;
  private waiters: (() => void)[] = [];

  constructor(options: CompileLoopOptions) {
    this.options = options;
    this.clock = options.clock ?? systemTime;
    this.debounceMs = options.debounceMs ?? 50;
    this.maxDelayMs = Math.max(this.debounceMs, options.maxDelayMs ?? 500);
  }

  get view(): ObjectStoreView {
    return this.store;
  }

  get current(): CompiledSnapshot | undefined {
    return this.last;
  }

  /** Resolves after the first compile that follows every source's initial sync. */
  firstSnapshot(): Promise<void> {
    if (this.last !== undefined) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  async start(): Promise<void> {
    for (const source of this.options.sources) {
      await source.start((event) => this.onEvent(source, event));
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = undefined;
    await Promise.all(this.options.sources.map((s) => s.stop()));
  }

  private rejectedCount(): number {
    let n = this.compileErrors.size;
    for (const s of this.objects.values()) if (s.rejected !== undefined) n++;
    return n;
  }

  status(): ConfigStatus {
    const rejected = [...this.objects.values()]
      .flatMap((s) => (s.rejected ? [s.rejected] : []))
      .concat([...this.compileErrors.values()])
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const ignored = [...this.objects.entries()].flatMap(([key, s]) =>
      s.ignored === undefined ? [] : [{ key, message: s.ignored }],
    );
    return {
      generation: this.store.generation,
      snapshotVersion: this.last?.snapshot.version,
      compiledAt: this.compiledAt,
      objects: this.store.size,
      rejected,
      ignored,
      warnings: (this.last?.result.warnings ?? []).map(formatValidationError),
      sourceErrors: [...this.sourceErrors],
      sources: this.options.sources.map((s) => s.status()),
    };
  }

  /** Compiles now if anything is pending (tests and shutdown paths). */
  flush(): void {
    this.timer?.cancel();
    this.timer = undefined;
    this.run();
  }

  private onEvent(source: ConfigSource, event: SourceEvent): void {
    if (this.stopped) return;
    switch (event.type) {
      case 'changes': {
        this.store.apply(event.batch);
        for (const change of event.batch.changes)
          this.track(change.key, change.type === 'delete' ? undefined : change.object);
        this.schedule();
        return;
      }
      case 'synced':
        this.synced.add(source.name);
        this.schedule();
        return;
      case 'error': {
        const e = { ...event.error, at: this.clock.now() };
        this.sourceErrors.push(e);
        if (this.sourceErrors.length > MAX_SOURCE_ERRORS) this.sourceErrors.shift();
        this.options.logger.warn('config source error', {
          source: e.source,
          reason: e.reason,
          error: e.message,
        });
        this.options.events.sourceError?.(event.error);
        return;
      }
      case 'status':
        return;
      default: {
        const never: never = event;
        throw new Error(`unexpected source event ${JSON.stringify(never)}`);
      }
    }
  }

  /** Validates one changed object and decides which version (if any) compiles. */
  private track(key: string, object: KubeObject | undefined): void {
    const state = this.objects.get(key) ?? { effective: undefined, rejected: undefined, ignored: undefined };
    if (object === undefined) {
      if (state.rejected) this.options.logger.info('rejected object deleted', { object: key });
      this.objects.delete(key);
      return;
    }
    this.objects.set(key, state);
    const result = validateObject(object);
    if (result.ok) {
      if (state.rejected) this.options.logger.info('object accepted again', { object: key });
      state.effective = object;
      state.rejected = undefined;
      state.ignored = undefined;
      return;
    }
    const error = result.error;
    if (error.code === 'unknown-kind') {
      state.effective = undefined;
      state.rejected = undefined;
      state.ignored = error.message;
      return;
    }
    const reason = formatValidationError(error);
    if (state.rejected?.reason === reason) return; // the same problem again: already logged and counted
    const rejected: RejectedObject = {
      key,
      kind: error.kind,
      namespace: error.namespace,
      name: error.name,
      code: error.code,
      field: error.path,
      message: error.message,
      reason,
      issues: error.issues,
      since: this.clock.now(),
      servingLastValid: state.effective !== undefined,
    };
    state.rejected = rejected;
    state.ignored = undefined;
    this.report(rejected);
  }

  private report(rejected: RejectedObject): void {
    this.options.logger.warn('config object rejected', {
      object: rejected.key,
      field: rejected.field,
      error: rejected.reason,
      ...(rejected.servingLastValid ? { serving: 'last valid version' } : {}),
    });
    this.options.events.rejected?.(rejected);
  }

  private schedule(): void {
    this.dirty = true;
    if (!this.options.sources.every((s) => this.synced.has(s.name))) return;
    const now = this.clock.now();
    if (this.timer === undefined) this.firstPendingAt = now;
    else this.timer.cancel();
    const wait = Math.max(0, Math.min(this.debounceMs, this.firstPendingAt + this.maxDelayMs - now));
    this.timer = this.clock.schedule(wait, () => {
      this.timer = undefined;
      this.run();
    });
  }

  private run(): void {
    if (this.stopped || !this.dirty) return;
    this.dirty = false;
    const input: KubeObject[] = [];
    for (const s of this.objects.values()) if (s.effective !== undefined) input.push(s.effective);
    const started = performance.now();
    let result: CompileResult;
    try {
      result = compile(input, this.options.compile);
    } catch (err) {
      // compile returns errors as values; a throw is a bug. Keep serving the last snapshot.
      this.options.logger.error('compile failed; keeping the last snapshot', { error: String(err) });
      this.options.events.compiled?.(performance.now() - started, false);
      return;
    }
    const durationMs = performance.now() - started;
    this.compiledAt = this.clock.now();
    this.trackCompileErrors(result.errors);
    this.options.events.compiled?.(durationMs, true);
    const previous = this.last;
    this.last = { snapshot: result.snapshot, result, durationMs };
    if (previous?.snapshot.version !== result.snapshot.version) {
      this.options.logger.info('compiled', {
        version: result.snapshot.version,
        objects: result.stats.objects,
        workloads: Object.keys(result.snapshot.workloads).length,
        services: Object.keys(result.snapshot.services).length,
        policies: Object.keys(result.snapshot.authorizationPolicies).length,
        // Objects refused on arrival never reach compile; count them with what compile refused.
        rejected: this.rejectedCount(),
        ms: Math.round(durationMs * 10) / 10,
      });
      this.options.events.snapshot(this.last);
    }
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  /** Errors compile finds across objects (duplicates): listed, logged and counted once each. */
  private trackCompileErrors(errors: readonly ValidationError[]): void {
    const next = new Map<string, RejectedObject>();
    for (const error of errors) {
      const reason = formatValidationError(error);
      const key = `${error.kind ?? ''}/${error.namespace ?? ''}/${error.name ?? ''}`;
      const signature = `${error.code} ${reason}`;
      const known = this.compileErrors.get(signature);
      if (known) {
        next.set(signature, known);
        continue;
      }
      const rejected: RejectedObject = {
        key,
        kind: error.kind,
        namespace: error.namespace,
        name: error.name,
        code: error.code,
        field: error.path,
        message: error.message,
        reason,
        issues: error.issues,
        since: this.clock.now(),
        servingLastValid: false,
      };
      next.set(signature, rejected);
      this.report(rejected);
    }
    this.compileErrors = next;
  }
}
