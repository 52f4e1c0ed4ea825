import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { ResourceCache } from '../cache.ts';
import { DeltaDiscoveryResponse, DiscoveryResponse } from '../gen/envoy/service/discovery/v3/discovery.ts';
import { createResource } from '../resource.ts';
import { ENVOY_TYPE_URL, WEFT_TYPE_URL } from '../type-urls.ts';
import { AdsStreamState, type OutgoingResponse, type StreamRequest } from './stream.ts';
import type { AdsProtocol, ClientView } from './types.ts';

const W = WEFT_TYPE_URL.workload;
const S = WEFT_TYPE_URL.service;
const { cluster: CDS, clusterLoadAssignment: EDS, listener: LDS, routeConfiguration: RDS } = ENVOY_TYPE_URL;

function res(typeUrl: string, name: string, version = 'v1') {
  return createResource(typeUrl, name, new TextEncoder().encode(`${name}@${version}`), version);
}

function stream(protocol: AdsProtocol, view: ClientView, maxResponseBytes = 1 << 20) {
  return new AdsStreamState(
    {
      streamId: 1,
      protocol,
      node: undefined,
      nodeId: 'n1',
      peer: 'test',
      metadata: new grpc.Metadata(),
      authContext: undefined,
    },
    view,
    0,
    { maxResponseBytes },
  );
}

const req = (typeUrl: string, extra: Partial<StreamRequest> = {}): StreamRequest => ({
  typeUrl,
  responseNonce: '',
  errorDetail: undefined,
  ...extra,
});

function delta(r: OutgoingResponse) {
  const m = DeltaDiscoveryResponse.decode(r.bytes);
  return {
    type: m.typeUrl,
    nonce: m.nonce,
    upserts: m.resources.map((x) => `${x.name}@${x.version}`),
    removed: m.removedResources,
  };
}

function sotw(r: OutgoingResponse) {
  const m = DiscoveryResponse.decode(r.bytes);
  return {
    type: m.typeUrl,
    nonce: m.nonce,
    names: m.resources.map((a) => new TextDecoder().decode(a.value)),
  };
}

describe('delta stream state', () => {
  it('sends everything to a wildcard subscriber, then only changes after the ACK', () => {
    const cache = new ResourceCache();
    cache.apply([res(W, 'a'), res(W, 'b')]);
    const s = stream('delta', { cache });
    s.onRequest(req(W), 0);
    const [first] = s.flush().map(delta);
    expect(first?.upserts.sort()).toEqual(['a@v1', 'b@v1']);

    cache.apply([res(W, 'a', 'v2')]);
    expect(s.flush()).toEqual([]); // one unacknowledged push per type
    cache.apply([res(W, 'b', 'v2')]);
    expect(s.onRequest(req(W, { responseNonce: first?.nonce ?? '' }), 0)).toBe('ack');
    const [second] = s.flush().map(delta);
    expect(second?.upserts.sort()).toEqual(['a@v2', 'b@v2']); // coalesced
  });

  it('answers the first request even when nothing exists', () => {
    const s = stream('delta', { cache: new ResourceCache() });
    s.onRequest(req(W), 0);
    expect(s.flush().map(delta)).toEqual([{ type: W, nonce: '1', upserts: [], removed: [] }]);
  });

  it('serves named subscriptions only, and a new name at once', () => {
    const cache = new ResourceCache();
    cache.apply([res(W, 'a'), res(W, 'b'), res(W, 'c')]);
    const s = stream('delta', { cache });
    s.onRequest(req(W, { subscribe: ['a'] }), 0);
    const [r1] = s.flush().map(delta);
    expect(r1?.upserts).toEqual(['a@v1']);
    s.onRequest(req(W, { responseNonce: r1?.nonce ?? '', subscribe: ['c'] }), 0);
    expect(s.flush().map(delta)[0]?.upserts).toEqual(['c@v1']);
  });

  it('resumes from initial_resource_versions: unchanged is not resent, gone is removed', () => {
    const cache = new ResourceCache();
    cache.apply([res(W, 'a'), res(W, 'b', 'v2')]);
    const s = stream('delta', { cache });
    s.onRequest(req(W, { initialVersions: { a: 'v1', b: 'v1', gone: 'v1' } }), 0);
    const out = s.flush().map(delta);
    expect(out).toEqual([{ type: W, nonce: '1', upserts: ['b@v2'], removed: ['gone'] }]);
  });

  it('records a NACK and does not resend the rejected version', () => {
    const cache = new ResourceCache();
    cache.apply([res(W, 'a')]);
    const s = stream('delta', { cache });
    s.onRequest(req(W), 5);
    const [r1] = s.flush().map(delta);
    const outcome = s.onRequest(
      req(W, { responseNonce: r1?.nonce ?? '', errorDetail: { code: 3, message: 'a: bad', details: [] } }),
      7,
    );
    expect(outcome).toBe('nack');
    expect(s.flush()).toEqual([]);
    const [row] = s.status();
    expect(row?.lastNack).toEqual({ nonce: '1', version: '1', message: 'a: bad', at: 7 });
    expect(row?.versionAcked).toBe('');
  });

  it('ignores stale nonces for acknowledgement', () => {
    const cache = new ResourceCache();
    cache.apply([res(W, 'a')]);
    const s = stream('delta', { cache });
    s.onRequest(req(W), 0);
    s.flush();
    expect(s.onRequest(req(W, { responseNonce: '999' }), 0)).toBe('stale');
    cache.apply([res(W, 'a', 'v2')]);
    expect(s.flush()).toEqual([]); // still waiting for nonce 1
  });

  it('pushes in make-before-break order and holds removals until no upsert waits', () => {
    const cache = new ResourceCache();
    cache.apply([res(RDS, 'r'), res(LDS, 'l'), res(EDS, 'e'), res(CDS, 'old')]);
    const s = stream('delta', { cache });
    for (const t of [RDS, LDS, EDS, CDS]) s.onRequest(req(t), 0);
    const initial = s.flush().map(delta);
    expect(initial.map((r) => r.type)).toEqual([CDS, EDS, LDS, RDS]);
    for (const r of initial) s.onRequest(req(r.type, { responseNonce: r.nonce }), 0);

    // A route moves from cluster "old" to "new": new cluster first, route next, removal last.
    cache.apply([res(CDS, 'new'), res(RDS, 'r', 'v2')], [{ typeUrl: CDS, name: 'old' }]);
    const step = s.flush().map(delta);
    expect(step).toEqual([
      { type: CDS, nonce: '5', upserts: ['new@v1'], removed: [] },
      { type: RDS, nonce: '6', upserts: ['r@v2'], removed: [] },
    ]);
    // The route update is already on the wire (one ordered stream), so the removal may follow.
    s.onRequest(req(CDS, { responseNonce: '5' }), 0);
    expect(s.flush().map(delta)).toEqual([{ type: CDS, nonce: '7', upserts: [], removed: ['old'] }]);
  });

  it('sends a removal once every upsert is out', () => {
    const cache = new ResourceCache();
    cache.apply([res(CDS, 'old'), res(RDS, 'r')]);
    const s = stream('delta', { cache });
    s.onRequest(req(CDS), 0);
    s.onRequest(req(RDS), 0);
    for (const r of s.flush().map(delta)) s.onRequest(req(r.type, { responseNonce: r.nonce }), 0);
    cache.apply([res(RDS, 'r', 'v2')], [{ typeUrl: CDS, name: 'old' }]);
    expect(s.flush().map(delta)).toEqual([
      { type: RDS, nonce: '3', upserts: ['r@v2'], removed: [] },
      { type: CDS, nonce: '4', upserts: [], removed: ['old'] },
    ]);
  });

  it('splits a large initial push and sends the rest after each ACK', () => {
    const cache = new ResourceCache();
    cache.apply(Array.from({ length: 10 }, (_, i) => res(W, `w${i}`)));
    const s = stream('delta', { cache }, 60);
    s.onRequest(req(W), 0);
    const seen: string[] = [];
    for (let i = 0; i < 20; i++) {
      const [r] = s.flush().map(delta);
      if (r === undefined) break;
      seen.push(...r.upserts);
      s.onRequest(req(W, { responseNonce: r.nonce }), 0);
    }
    expect(seen.length).toBe(10);
    expect(new Set(seen).size).toBe(10);
  });

  it('applies the view filter: hidden resources are never sent, and become removals', () => {
    const cache = new ResourceCache();
    cache.apply([res(W, 'mine'), res(W, 'other')]);
    let hide = 'other';
    const s = stream('delta', { cache, filter: (r) => r.name !== hide });
    s.onRequest(req(W), 0);
    const [r1] = s.flush().map(delta);
    expect(r1?.upserts).toEqual(['mine@v1']);
    s.onRequest(req(W, { responseNonce: r1?.nonce ?? '' }), 0);
    hide = 'mine';
    s.setView({ cache, filter: (r) => r.name !== hide });
    expect(s.flush().map(delta)[0]).toMatchObject({ upserts: ['other@v1'], removed: ['mine'] });
  });

  it('unsubscribing forgets without a removal notice', () => {
    const cache = new ResourceCache();
    cache.apply([res(S, 'a'), res(S, 'b')]);
    const s = stream('delta', { cache });
    s.onRequest(req(S, { subscribe: ['a', 'b'] }), 0);
    const [r1] = s.flush().map(delta);
    s.onRequest(req(S, { responseNonce: r1?.nonce ?? '', unsubscribe: ['a'] }), 0);
    cache.apply([res(S, 'a', 'v2')]);
    expect(s.flush()).toEqual([]);
    expect(s.status()[0]?.resourceCount).toBe(1);
  });
});

describe('state-of-the-world stream state', () => {
  it('treats an empty first request as wildcard and resends the full set on change', () => {
    const cache = new ResourceCache();
    cache.apply([res(CDS, 'a'), res(CDS, 'b')]);
    const s = stream('sotw', { cache });
    s.onRequest(req(CDS, { resourceNames: [] }), 0);
    const [r1] = s.flush().map(sotw);
    expect(r1?.names.sort()).toEqual(['a@v1', 'b@v1']);
    s.onRequest(req(CDS, { responseNonce: r1?.nonce ?? '', resourceNames: [] }), 0);
    cache.apply([res(CDS, 'b', 'v2')]);
    expect(s.flush().map(sotw)[0]?.names.sort()).toEqual(['a@v1', 'b@v2']);
  });

  it('serves only the names asked for and follows changes to the list', () => {
    const cache = new ResourceCache();
    cache.apply([res(LDS, 'echo'), res(LDS, 'other')]);
    const s = stream('sotw', { cache });
    s.onRequest(req(LDS, { resourceNames: ['echo'] }), 0);
    const [r1] = s.flush().map(sotw);
    expect(r1?.names).toEqual(['echo@v1']);
    s.onRequest(req(LDS, { responseNonce: r1?.nonce ?? '', resourceNames: ['echo', 'other'] }), 0);
    expect(s.flush().map(sotw)[0]?.names).toEqual(['echo@v1', 'other@v1']);
  });

  it('ignores a request with a stale nonce entirely', () => {
    const cache = new ResourceCache();
    cache.apply([res(LDS, 'echo'), res(LDS, 'other')]);
    const s = stream('sotw', { cache });
    s.onRequest(req(LDS, { resourceNames: ['echo'] }), 0);
    s.flush();
    expect(s.onRequest(req(LDS, { responseNonce: 'old', resourceNames: ['echo', 'other'] }), 0)).toBe(
      'stale',
    );
    expect(s.status()[0]?.names).toEqual(['echo']);
  });

  it('keeps a removed cluster in the set until the route that used it is out', () => {
    const cache = new ResourceCache();
    cache.apply([res(CDS, 'old'), res(RDS, 'r')]);
    const s = stream('sotw', { cache });
    s.onRequest(req(CDS, { resourceNames: [] }), 0);
    s.onRequest(req(RDS, { resourceNames: ['r'] }), 0);
    for (const r of s.flush().map(sotw))
      s.onRequest(req(r.type, { responseNonce: r.nonce, resourceNames: r.type === RDS ? ['r'] : [] }), 0);
    cache.apply([res(CDS, 'new'), res(RDS, 'r', 'v2')], [{ typeUrl: CDS, name: 'old' }]);
    const step = s.flush().map(sotw);
    expect(step[0]).toMatchObject({ type: CDS });
    expect(step[0]?.names.sort()).toEqual(['new@v1', 'old@v1']);
    expect(step[1]).toMatchObject({ type: RDS, names: ['r@v2'] });
    for (const r of step)
      s.onRequest(req(r.type, { responseNonce: r.nonce, resourceNames: r.type === RDS ? ['r'] : [] }), 0);
    expect(s.flush().map(sotw)).toEqual([{ type: CDS, nonce: '5', names: ['new@v1'] }]);
  });
});

describe('nonces', () => {
  it('reads a request echoing the latest, already acknowledged nonce as a subscription change', () => {
    const cache = new ResourceCache();
    cache.apply([res(CDS, 'a'), res(CDS, 'b')]);
    const s = stream('sotw', { cache });
    s.onRequest(req(CDS, { resourceNames: ['a'] }), 0);
    const [r1] = s.flush().map(sotw);
    expect(s.onRequest(req(CDS, { responseNonce: r1?.nonce ?? '', resourceNames: ['a'] }), 0)).toBe('ack');
    expect(s.onRequest(req(CDS, { responseNonce: r1?.nonce ?? '', resourceNames: ['a', 'b'] }), 0)).toBe(
      'subscribe',
    );
    expect(s.flush().map(sotw)[0]?.names).toEqual(['a@v1', 'b@v1']);
  });
});

describe('shared snapshot for fresh wildcard subscribers', () => {
  it('streams the snapshot in chunks, then sends what changed meanwhile', () => {
    const cache = new ResourceCache();
    cache.apply(Array.from({ length: 6 }, (_, i) => res(W, `w${i}`)));
    const s = stream('delta', { cache }, 60);
    s.onRequest(req(W), 0);
    const got = new Map<string, string>();
    const [first] = s.flush().map(delta);
    for (const u of first?.upserts ?? []) got.set(u.split('@')[0] as string, u);
    cache.apply([res(W, 'w5', 'v2')]); // changes while chunks are still going out
    let nonce = first?.nonce ?? '';
    for (let i = 0; i < 20; i++) {
      s.onRequest(req(W, { responseNonce: nonce }), 0);
      const [r] = s.flush().map(delta);
      if (r === undefined) break;
      for (const u of r.upserts) got.set(u.split('@')[0] as string, u);
      nonce = r.nonce;
    }
    expect(got.size).toBe(6);
    expect(got.get('w5')).toBe('w5@v2'); // the newer version wins: it is sent after the snapshot
    expect(s.status()[0]).toMatchObject({ resourceCount: 6, queued: 0 });
  });

  it('frames the snapshot once for every stream at the same revision', () => {
    const cache = new ResourceCache();
    cache.apply([res(W, 'a'), res(W, 'b')]);
    expect(cache.snapshot(W, 1024)).toBe(cache.snapshot(W, 1024));
    const a = stream('delta', { cache });
    const b = stream('delta', { cache });
    a.onRequest(req(W), 0);
    b.onRequest(req(W), 0);
    const [ra] = a.flush();
    const [rb] = b.flush();
    expect(delta(ra as OutgoingResponse).upserts).toEqual(delta(rb as OutgoingResponse).upserts);
    // Same nonce and revision: one framed response for both streams.
    expect(rb?.bytes).toBe(ra?.bytes);
    cache.apply([res(W, 'a', 'v2')]);
    expect(cache.snapshot(W, 1024).versions.get('a')).toBe('v2');
  });

  it('frames a chunk again for a stream whose nonce differs, with that nonce', () => {
    const cache = new ResourceCache();
    cache.apply([res(W, 'a'), res(W, 'b')]);
    const a = stream('delta', { cache });
    const b = stream('delta', { cache });
    // b's first response is for another type: its Workload chunk goes out under nonce 2.
    b.onRequest(req(S), 0);
    b.flush();
    a.onRequest(req(W), 0);
    b.onRequest(req(W), 0);
    const [ra] = a.flush();
    const [rb] = b.flush();
    expect(delta(ra as OutgoingResponse)).toMatchObject({ nonce: '1', upserts: ['a@v1', 'b@v1'] });
    expect(delta(rb as OutgoingResponse)).toMatchObject({ nonce: '2', upserts: ['a@v1', 'b@v1'] });
    expect(rb?.nonce).toBe('2');
  });

  it('stops the snapshot when the view changes, keeping what was sent', () => {
    const cache = new ResourceCache();
    cache.apply(Array.from({ length: 4 }, (_, i) => res(W, `w${i}`)));
    const s = stream('delta', { cache }, 40);
    s.onRequest(req(W), 0);
    const [r1] = s.flush().map(delta);
    const sentFirst = r1?.upserts ?? [];
    s.setView({ cache, filter: (r) => r.name !== 'w0' });
    const removed: string[] = [];
    const upserted: string[] = [];
    let nonce = r1?.nonce ?? '';
    for (let i = 0; i < 20; i++) {
      s.onRequest(req(W, { responseNonce: nonce }), 0);
      const [r] = s.flush().map(delta);
      if (r === undefined) break;
      removed.push(...r.removed);
      upserted.push(...r.upserts);
      nonce = r.nonce;
    }
    if (sentFirst.includes('w0@v1')) expect(removed).toContain('w0');
    expect(upserted).not.toContain('w0@v1');
  });
});
