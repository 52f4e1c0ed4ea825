// The subpath layers stay what the README promises: ./trace, ./log, ./access-log and the time
// module carry no dependency (no prom-client, no node:*), so proxyless clients and leaf packages
// can use them.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const src = dirname(fileURLToPath(import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(join(src, dir), { withFileTypes: true }).flatMap((e) => {
    const rel = join(dir, e.name);
    if (e.isDirectory()) return sources(rel);
    return e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [rel] : [];
  });
}

function imports(file: string): string[] {
  const text = readFileSync(join(src, file), 'utf8');
  return [...text.matchAll(/^(?:import|export)\s[^'"]*?from\s+'([^']+)'/gm)].map((m) => m[1] as string);
}

describe('package layers', () => {
  it.each(['trace', 'log', 'access-log', 'format', 'time'])(
    './%s imports only relative, dependency-free modules',
    (dir) => {
      for (const file of sources(dir)) {
        for (const spec of imports(file)) {
          expect(spec, `${file} imports ${spec}`).toMatch(/^\.\.?\//);
          expect(spec, `${file} imports ${spec}`).not.toMatch(/metrics/);
        }
      }
    },
  );

  it("no module loads prom-client's index (every metric class, push gateway, cluster, OpenTelemetry); types only", () => {
    const files = ['metrics', 'format', 'time', 'trace', 'log', 'access-log'].flatMap(sources);
    const valueImports = files.flatMap((file) => {
      const text = readFileSync(join(src, file), 'utf8');
      return [...text.matchAll(/^(?:import|export)\s(?!type\s)[^'"]*?from\s+'prom-client'/gm)].map(
        (m) => `${file}: ${m[0]}`,
      );
    });
    expect(valueImports).toEqual([]);
    expect(readFileSync(join(src, 'metrics', 'registry.ts'), 'utf8')).toContain(
      "'prom-client/lib/registry.js'",
    );
  });

  it('the import scan sees imports', () => {
    expect(imports(join('trace', 'propagate.ts')).length).toBeGreaterThan(3);
  });

  it('subpaths resolve through the package exports', async () => {
    const [root, metrics, trace, log, accessLog, testing] = await Promise.all([
      import('@weft/telemetry'),
      import('@weft/telemetry/metrics'),
      import('@weft/telemetry/trace'),
      import('@weft/telemetry/log'),
      import('@weft/telemetry/access-log'),
      import('@weft/telemetry/testing'),
    ]);
    expect(typeof root.createMeshMetrics).toBe('function');
    expect(metrics.createMeshMetrics).toBe(root.createMeshMetrics);
    expect(trace.propagateTraceContext).toBe(root.propagateTraceContext);
    expect(log.createLogger).toBe(root.createLogger);
    expect(accessLog.createAccessLogger).toBe(root.createAccessLogger);
    expect(typeof testing.parsePrometheusText).toBe('function');
    expect(typeof testing.createManualClock).toBe('function');
    expect(typeof root.systemScheduler.schedule).toBe('function');
  });
});
