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
  const { snapshot, errors } = compile(loadManifests());

  it('compile without errors into ambient workloads on two nodes, a waypoint pod and hybrid pods', () => {
    expect(errors).toEqual([]);
    const workloads = Object.values(snapshot.workloads);
    expect(workloads.map((w) => [w.name, w.node, w.ips[0], w.mode, w.identity]).sort()).toEqual([
      ['client', 'node-b', '127.0.10.2', 'ambient', 'spiffe://cluster.local/ns/demo/sa/client'],
      ['echo-direct', 'node-a', '127.0.10.6', 'ambient', 'spiffe://cluster.local/ns/demo/sa/echo'],
      ['echo-flaky', 'node-a', '127.0.10.4', 'ambient', 'spiffe://cluster.local/ns/demo/sa/echo'],
      ['echo-v1', 'node-a', '127.0.10.1', 'ambient', 'spiffe://cluster.local/ns/demo/sa/echo'],
      ['echo-v2', 'node-b', '127.0.10.3', 'ambient', 'spiffe://cluster.local/ns/demo/sa/echo'],
      [
        'grpc-ambient',
        'node-a',
        '127.0.12.4',
        'ambient',
        'spiffe://cluster.local/ns/grpc-ambient/sa/grpc-ambient',
      ],
      [
        'grpc-client',
        'node-b',
        '127.0.12.3',
        'proxyless',
        'spiffe://cluster.local/ns/proxyless/sa/grpc-client',
      ],
      ['grpc-demo', 'node-b', '127.0.10.7', 'ambient', 'spiffe://cluster.local/ns/demo/sa/echo'],
      [
        'grpc-echo-v1',
        'node-a',
        '127.0.12.1',
        'proxyless',
        'spiffe://cluster.local/ns/proxyless/sa/grpc-echo',
      ],
      [
        'grpc-echo-v2',
        'node-b',
        '127.0.12.2',
        'proxyless',
        'spiffe://cluster.local/ns/proxyless/sa/grpc-echo',
      ],
      ['grpc-sidecar', 'node-b', '127.0.11.4', 'sidecar', 'spiffe://cluster.local/ns/hybrid/sa/grpc-sidecar'],
      ['plain-echo', 'node-a', '127.0.11.3', 'none', 'spiffe://cluster.local/ns/hybrid/sa/plain-echo'],
      [
        'sidecar-client',
        'node-a',
        '127.0.11.1',
        'sidecar',
        'spiffe://cluster.local/ns/hybrid/sa/sidecar-client',
      ],
      ['sidecar-echo', 'node-b', '127.0.11.2', 'sidecar', 'spiffe://cluster.local/ns/hybrid/sa/sidecar-echo'],
      ['waypoint-0', 'node-a', '127.0.10.5', 'none', 'spiffe://cluster.local/ns/demo/sa/waypoint'],
    ]);
    const echo = snapshot.services['echo.demo.svc.cluster.local'];
    expect(echo?.vips).toEqual(['127.0.20.1']);
    expect(echo?.endpoints.map((e) => `${e.ip}:${e.targetPort}`)).toEqual([
      '127.0.10.1:8080',
      '127.0.10.3:8080',
    ]);
  });

  it('bind every demo service, not the workloads, to the waypoint run by waypoint-0; hybrid services bypass it', () => {
    expect(snapshot.waypoints['demo/waypoint']?.workloads).toEqual(['7d1e0c52-0005-4000-8000-000000000005']);
    const bound = Object.values(snapshot.services).map((s) => [s.name, s.waypoint?.key ?? '-']);
    expect(bound.sort()).toEqual([
      ['echo', 'demo/waypoint'],
      ['echo-flaky', 'demo/waypoint'],
      ['echo-v1', 'demo/waypoint'],
      ['echo-v2', 'demo/waypoint'],
      ['grpc-ambient', '-'],
      ['grpc-demo', 'demo/waypoint'],
      ['grpc-echo', '-'],
      ['grpc-echo-v1', '-'],
      ['grpc-echo-v2', '-'],
      ['grpc-sidecar', '-'],
      ['plain-echo', '-'],
      ['sidecar-echo', '-'],
    ]);
    expect(Object.values(snapshot.workloads).filter((w) => w.waypoint !== undefined)).toEqual([]);
  });

  it('give the hybrid services their own VIPs and endpoints', () => {
    expect(snapshot.services['sidecar-echo.hybrid.svc.cluster.local']?.vips).toEqual(['127.0.21.1']);
    expect(
      snapshot.services['sidecar-echo.hybrid.svc.cluster.local']?.endpoints.map(
        (e) => `${e.ip}:${e.targetPort}`,
      ),
    ).toEqual(['127.0.11.2:8080']);
    expect(snapshot.services['plain-echo.hybrid.svc.cluster.local']?.vips).toEqual(['127.0.21.2']);
  });

  it('give the proxyless versions their own container ports through the named target port', () => {
    const endpoints = (name: string) =>
      snapshot.services[`${name}.proxyless.svc.cluster.local`]?.endpoints.map(
        (e) => `${e.ip}:${e.targetPort}`,
      );
    expect(endpoints('grpc-echo')).toEqual(['127.0.12.1:9091', '127.0.12.2:9092']);
    expect(endpoints('grpc-echo-v1')).toEqual(['127.0.12.1:9091']);
    expect(endpoints('grpc-echo-v2')).toEqual(['127.0.12.2:9092']);
  });

  it('route echo by header, then 90/10 between v1 and v2', () => {
    const table = snapshot.routes['echo.demo.svc.cluster.local:8080'];
    expect(table?.rules.map((r) => r.backends.map((b) => `${b.host.split('.')[0]}=${b.weight}`))).toEqual([
      ['echo-v2=1'],
      ['echo-v1=90', 'echo-v2=10'],
    ]);
  });
});
