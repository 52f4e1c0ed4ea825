// The demo manifests must be valid mesh objects that compile into the workloads and services the
// demo and the end-to-end scenarios rely on.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compile } from '@weft/policy';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';

const dir = join(import.meta.dirname, '..', 'manifests');

function loadManifests(): unknown[] {
  const objects: unknown[] = [];
  for (const file of readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()) {
    for (const doc of parseAllDocuments(readFileSync(join(dir, file), 'utf8'))) {
      if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]?.message}`);
      const value = doc.toJSON();
      if (value !== null) objects.push(value);
    }
  }
  return objects;
}

describe('demo manifests', () => {
  it('compile without errors into ambient workloads on two nodes', () => {
    const { snapshot, errors } = compile(loadManifests());
    expect(errors).toEqual([]);
    const workloads = Object.values(snapshot.workloads);
    expect(workloads.map((w) => [w.name, w.node, w.ips[0], w.mode, w.identity]).sort()).toEqual([
      ['client', 'node-b', '127.0.10.2', 'ambient', 'spiffe://cluster.local/ns/demo/sa/client'],
      ['echo-v1', 'node-a', '127.0.10.1', 'ambient', 'spiffe://cluster.local/ns/demo/sa/echo'],
    ]);
    const echo = snapshot.services['echo.demo.svc.cluster.local'];
    expect(echo?.vips).toEqual(['127.0.20.1']);
    expect(echo?.endpoints.map((e) => `${e.ip}:${e.targetPort}`)).toEqual(['127.0.10.1:8080']);
  });
});
