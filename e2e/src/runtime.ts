// Which JavaScript runtime runs the mesh's components, and how to start Bun itself.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export type ComponentRuntime = 'node' | 'bun';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * Reads a runtime name (`--runtime`, WEFT_RUNTIME): undefined or empty means Node; anything but
 * `node` or `bun` is an error naming what was given, never a silent fall back to Node.
 */
export function parseRuntime(value: string | undefined, from: string): ComponentRuntime {
  if (value === undefined || value === '' || value === 'node') return 'node';
  if (value === 'bun') return 'bun';
  throw new Error(`${from} must be node or bun, not ${JSON.stringify(value)}`);
}

/** The runtime the e2e tiers run components on: WEFT_RUNTIME (WEFT_E2E_RUNTIME, older), default node. */
export function runtimeFromEnv(env: NodeJS.ProcessEnv = process.env): ComponentRuntime {
  if (env.WEFT_RUNTIME !== undefined && env.WEFT_RUNTIME !== '')
    return parseRuntime(env.WEFT_RUNTIME, 'WEFT_RUNTIME');
  return parseRuntime(env.WEFT_E2E_RUNTIME, 'WEFT_E2E_RUNTIME');
}

/**
 * The Bun executable itself. Not `node_modules/.bin/bun`: package managers write that as a shell
 * script which runs Bun as its child, so a signal sent to the process we spawned (SIGTERM on stop,
 * SIGKILL on kill) ends the shell and leaves Bun serving on its ports, a component that never
 * left. Order: this process's own executable when the driver runs on Bun, the binary the `bun`
 * package declares (its package.json `bin`), then `bun` on the PATH.
 */
export function bunExecutable(): string {
  if (process.versions.bun !== undefined) return process.execPath;
  const pkgFile = join(REPO_ROOT, 'node_modules', 'bun', 'package.json');
  if (existsSync(pkgFile)) {
    const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as { bin?: string | Record<string, string> };
    const bin = typeof pkg.bin === 'string' ? pkg.bin : pkg.bin?.bun;
    if (bin !== undefined) {
      const file = join(dirname(pkgFile), bin);
      if (existsSync(file)) return file;
    }
  }
  return 'bun';
}
