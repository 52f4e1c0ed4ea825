// The one outbound decision SOCKS5 and the capture listeners share: plan, refuse, open.
import { PassThrough } from 'node:stream';
import { applyUpdate, batchFromSnapshot, createStateStore, REPLY } from '@weft/proxy-core';
import { compileOrThrow, localMeshLayout, localMeshObjects } from '@weft/proxy-core/testing';
import { describe, expect, it } from 'vitest';
import type { OutboundExecutor, UpstreamResult } from './execute.ts';
import { createOutboundRoute } from './route.ts';

const layout = localMeshLayout(21, 22);
const store = createStateStore();
applyUpdate(store, batchFromSnapshot(compileOrThrow(localMeshObjects({ layout })), 'test'));

function fakeExecutor(upstream: UpstreamResult) {
  const calls: string[] = [];
  const executor: OutboundExecutor = {
    reportOf: () => ({ reporter: 'source', security: 'unknown', sourceAddress: '' }),
    refuse(plan) {
      calls.push(`refuse ${plan.reason}`);
      return REPLY.notAllowed;
    },
    async openUpstream(plan) {
      calls.push(`open ${plan.kind}`);
      return upstream;
    },
    run() {},
  };
  return { executor, calls };
}

const echo = { kind: 'hostname' as const, hostname: layout.echoHost, port: 80 };
const failed: UpstreamResult = {
  ok: false,
  reason: 'hbone_connect_failed',
  reply: REPLY.connectionRefused,
  flags: ['UF'],
  message: 'refused',
};

describe('createOutboundRoute', () => {
  it.each([
    {
      name: 'a local ambient source to a mesh service: HBONE opened',
      source: layout.client,
      upstream: { ok: true, upstream: new PassThrough() } as UpstreamResult,
      result: { ok: true, kind: 'hbone' },
      calls: ['open hbone'],
    },
    {
      name: 'an unknown source is refused without opening anything',
      source: '127.0.22.99',
      upstream: failed,
      result: { ok: false, reply: REPLY.notAllowed },
      calls: ['refuse unknown-source'],
    },
    {
      name: 'a failed upstream answers with its reply',
      source: layout.client,
      upstream: failed,
      result: { ok: false, reply: REPLY.connectionRefused },
      calls: ['open hbone'],
    },
  ])('$name', async ({ source, upstream, result, calls }) => {
    const f = fakeExecutor(upstream);
    const route = createOutboundRoute({
      nodeName: layout.nodeB.name,
      state: () => store.state,
      executor: f.executor,
      pick: () => 0,
    });
    const r = await route({ ip: source, port: 40000 }, echo);
    expect(r.ok ? { ok: true, kind: r.plan.kind } : r).toEqual(result);
    expect(f.calls).toEqual(calls);
  });
});
