// The declarations this package publishes must compile for a user who installs it alone: every
// package they import is a runtime dependency, and brings its own types or has its @types/*
// package among the dependencies (a dev dependency is not installed for users).
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..');
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  exports: Record<string, { types?: string } | string>;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
};
const runtime = new Set([
  ...Object.keys(manifest.dependencies ?? {}),
  ...Object.keys(manifest.peerDependencies ?? {}),
]);

/** Bare module specifiers imported by the declarations reachable from `entries`. */
function importedPackages(outDir: string, entries: string[]): Set<string> {
  const seen = new Set<string>();
  const packages = new Set<string>();
  const queue = [...entries];
  for (let file = queue.pop(); file !== undefined; file = queue.pop()) {
    if (seen.has(file)) continue;
    seen.add(file);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)['"]([^'"]+)['"]/g)) {
      const spec = m[1] as string;
      if (spec.startsWith('.')) {
        const target = resolve(dirname(file), spec.replace(/\.(ts|js)$/, '.d.ts'));
        if (!target.startsWith(outDir)) throw new Error(`${file} imports outside the package: ${spec}`);
        queue.push(target);
      } else if (!spec.startsWith('node:')) {
        const parts = spec.split('/');
        packages.add(spec.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] as string));
      }
    }
  }
  return packages;
}

/** The @types package that gives `name` its types when the package builds, if any. */
function typesPackageOf(name: string): string | undefined {
  const typesName = `@types/${name.startsWith('@') ? name.slice(1).replace('/', '__') : name}`;
  // pnpm links every dependency of the package, dev ones included, under its own node_modules.
  return existsSync(join(root, 'node_modules', typesName, 'package.json')) ? typesName : undefined;
}

describe('published type declarations', () => {
  let outDir = '';
  beforeAll(async () => {
    outDir = await mkdtemp(join(tmpdir(), 'weft-ca-dts-'));
    const tsc = join(root, 'node_modules', '.bin', 'tsc');
    await promisify(execFile)(
      tsc,
      ['-p', 'tsconfig.build.json', '--emitDeclarationOnly', '--outDir', outDir],
      {
        cwd: root,
      },
    );
  }, 60_000);
  afterAll(() => rm(outDir, { recursive: true, force: true }));

  it('import only runtime dependencies that bring their types', () => {
    const entries = Object.values(manifest.exports).flatMap((e) =>
      typeof e === 'object' && e.types !== undefined
        ? [resolve(outDir, e.types.replace(/^\.\/dist\//, ''))]
        : [],
    );
    expect(entries.length).toBeGreaterThan(3);
    const used = importedPackages(outDir, entries);
    expect(used.size).toBeGreaterThan(0);
    const problems: string[] = [];
    for (const name of used) {
      if (!runtime.has(name)) problems.push(`${name}: imported by the types but not a dependency`);
      else {
        const types = typesPackageOf(name);
        if (types !== undefined && !runtime.has(types))
          problems.push(`${name}: its types (${types}) are not a dependency`);
      }
    }
    expect(problems).toEqual([]);
  });
});
