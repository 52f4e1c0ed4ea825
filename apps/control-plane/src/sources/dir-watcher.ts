// fs.watch over a folder tree, as hints only: the FileSource never trusts events to be complete
// (see file-source.ts), it uses them to react fast and rescans to be right.
import { type FSWatcher, watch } from 'node:fs';
import { join, sep } from 'node:path';

export type WatchMode = 'auto' | 'recursive' | 'per-directory' | 'off';

export interface DirWatcherHandlers {
  /** `path` is relative to the root, '/'-separated; '' is the root itself */
  onChange(path: string): void;
  /** a watcher failed or could not be created; `dir` is relative to the root */
  onError(dir: string, err: unknown): void;
}

/**
 * 'auto' picks the native recursive watch where the OS has one (macOS FSEvents, Windows
 * ReadDirectoryChangesW) and one watcher per directory elsewhere: on Linux, inotify is
 * per-directory anyway and Node 20 emulates `recursive` in JS with known gaps for directories
 * created after the watch starts; per-directory watchers we manage ourselves close those gaps
 * (every new directory found by a scan gets a watcher).
 */
export function resolveWatchMode(mode: WatchMode, platform: NodeJS.Platform = process.platform): WatchMode {
  if (mode !== 'auto') return mode;
  return platform === 'darwin' || platform === 'win32' ? 'recursive' : 'per-directory';
}

export class DirWatcher {
  private readonly root: string;
  private readonly mode: Exclude<WatchMode, 'auto'>;
  private readonly handlers: DirWatcherHandlers;
  private readonly watchers = new Map<string, FSWatcher>();
  private closed = false;

  constructor(root: string, mode: WatchMode, handlers: DirWatcherHandlers) {
    this.root = root;
    this.mode = resolveWatchMode(mode) as Exclude<WatchMode, 'auto'>;
    this.handlers = handlers;
  }

  /** Makes the set of watched directories match `dirs` (relative, '' = root). */
  sync(dirs: ReadonlySet<string>): void {
    if (this.closed || this.mode === 'off') return;
    if (this.mode === 'recursive') {
      if (dirs.has('') && !this.watchers.has('')) this.open('', true);
      if (!dirs.has('')) this.drop('');
      return;
    }
    for (const dir of [...this.watchers.keys()]) if (!dirs.has(dir)) this.drop(dir);
    for (const dir of dirs) if (!this.watchers.has(dir)) this.open(dir, false);
  }

  get size(): number {
    return this.watchers.size;
  }

  close(): void {
    this.closed = true;
    for (const dir of [...this.watchers.keys()]) this.drop(dir);
  }

  private open(dir: string, recursive: boolean): void {
    let watcher: FSWatcher;
    try {
      watcher = watch(dir === '' ? this.root : join(this.root, dir), { recursive, persistent: false });
    } catch (err) {
      // ENOENT (removed meanwhile), ENOSPC (inotify watch limit), EMFILE...: rescans cover it.
      this.handlers.onError(dir, err);
      return;
    }
    this.watchers.set(dir, watcher);
    watcher.on('change', (_event, filename) => {
      if (this.closed) return;
      const name = filename === null ? '' : String(filename).split(sep).join('/');
      this.handlers.onChange(name === '' ? dir : dir === '' ? name : `${dir}/${name}`);
    });
    watcher.on('error', (err) => {
      // The watched directory went away or the watch broke: forget it, the next scan decides.
      this.drop(dir);
      if (!this.closed) {
        this.handlers.onError(dir, err);
        this.handlers.onChange(dir);
      }
    });
  }

  private drop(dir: string): void {
    const watcher = this.watchers.get(dir);
    if (watcher === undefined) return;
    this.watchers.delete(dir);
    watcher.removeAllListeners('change');
    // Keep an error listener: a late 'error' on a closed watcher must not become an uncaught one.
    watcher.on('error', () => {});
    watcher.close();
  }
}
