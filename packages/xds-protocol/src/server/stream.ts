// The per-stream ADS state machine, shared by state-of-the-world and delta. It decides what to
// send (pure bookkeeping over the cache); ads-server.ts owns the sockets and calls `flush()`.
import type { ResourceCache, TypeSnapshot } from '../cache.ts';
import type { Status } from '../gen/google/rpc/status.ts';
import type { CachedResource } from '../resource.ts';
import { PUSH_ORDER } from '../type-urls.ts';
import { encodeDeltaResponse, encodeDeltaResponseWithBlock, encodeSotwResponse } from '../wire.ts';
import { KnownVersions } from './known-versions.ts';
import type { AdsClientInfo, AdsProtocol, ClientView, NackInfo, TypeSyncStatus } from './types.ts';

/** One encoded response ready for the wire. */
export interface OutgoingResponse {
  typeUrl: string;
  nonce: string;
  bytes: Uint8Array;
  resourceCount: number;
}

/** The parts of a DiscoveryRequest / DeltaDiscoveryRequest the state machine reads. */
export interface StreamRequest {
  typeUrl: string;
  responseNonce: string;
  errorDetail: Status | undefined;
  /** SotW: the full list of wanted names. */
  resourceNames?: readonly string[];
  /** Delta: changes to the subscription, and what the client already has. */
  subscribe?: readonly string[];
  unsubscribe?: readonly string[];
  initialVersions?: Readonly<Record<string, string>>;
}

export type RequestOutcome = 'subscribe' | 'ack' | 'nack' | 'stale';

const WILDCARD = '*';

class TypeState {
  readonly typeUrl: string;
  /** Order key: PUSH_ORDER index, then first-request order. */
  readonly rank: number;
  requested = false;
  wildcard = false;
  /** SotW legacy wildcard: first request had no names, and none have been named since. */
  legacyWildcard = false;
  readonly names = new Set<string>();
  /** name -> version the client holds (as far as we know). */
  readonly known = new KnownVersions();
  /** A shared snapshot being streamed to a fresh wildcard subscriber, chunk by chunk. */
  snapshot: { snap: TypeSnapshot; next: number } | undefined;
  /** SotW only: the resources of the client's current set (re-sent in every response). */
  readonly sent = new Map<string, CachedResource>();
  readonly pending = new Set<string>();
  pendingAll = false;
  mustRespond = false;
  seenRevision = 0;
  inflight: { nonce: string; version: string } | undefined;
  /** Nonce of the latest response of this type (acknowledged or not). */
  lastNonce = '';
  versionSent = '';
  versionAcked = '';
  lastNack: NackInfo | undefined;
  acks = 0;
  nacks = 0;
  responses = 0;

  constructor(typeUrl: string, rank: number) {
    this.typeUrl = typeUrl;
    this.rank = rank;
  }

  subscribed(name: string): boolean {
    return this.wildcard || this.names.has(name);
  }

  hasWork(): boolean {
    return this.mustRespond || this.pendingAll || this.pending.size > 0 || this.snapshot !== undefined;
  }

  forget(name: string): void {
    this.known.delete(name);
    this.sent.delete(name);
    this.pending.delete(name);
  }
}

export interface StreamLimits {
  /** Delta: upserts per response stop growing past this many bytes (the rest follow after ACK). */
  maxResponseBytes: number;
}

export class AdsStreamState {
  readonly protocol: AdsProtocol;
  readonly client: AdsClientInfo;
  #view: ClientView;
  readonly connectedAt: number;
  readonly #types = new Map<string, TypeState>();
  #ordered: TypeState[] = [];
  #nonce = 0;
  readonly #limits: StreamLimits;

  constructor(client: AdsClientInfo, view: ClientView, connectedAt: number, limits: StreamLimits) {
    this.protocol = client.protocol;
    this.client = client;
    this.#view = view;
    this.connectedAt = connectedAt;
    this.#limits = limits;
  }

  get view(): ClientView {
    return this.#view;
  }

  get cache(): ResourceCache {
    return this.#view.cache;
  }

  /** Switches to another view; everything is compared again on the next flush. */
  setView(view: ClientView): void {
    this.#view = view;
    for (const st of this.#types.values()) {
      this.#stopSnapshot(st);
      st.seenRevision = 0;
      st.pendingAll = true;
    }
  }

  /** Whether a change to these types concerns this stream. */
  watches(typeUrls: ReadonlySet<string>): boolean {
    for (const t of typeUrls) if (this.#types.has(t)) return true;
    return false;
  }

  /** Applies one request; returns what kind it was. */
  onRequest(req: StreamRequest, now: number): RequestOutcome {
    const st = this.#type(req.typeUrl);
    let outcome: RequestOutcome = 'subscribe';
    // A first request may echo a nonce from an earlier stream: it is a subscription, nothing else.
    if (req.responseNonce !== '' && st.requested) {
      if (req.responseNonce !== st.lastNonce) {
        // A reply to a push that has since been superseded. SotW carries nothing else worth
        // reading (the next ACK repeats the full name list); delta may carry subscription changes.
        if (this.protocol === 'sotw') return 'stale';
        outcome = 'stale';
      } else if (st.inflight !== undefined) {
        const err = req.errorDetail;
        if (err !== undefined && (err.code !== 0 || err.message !== '')) {
          st.nacks++;
          st.lastNack = {
            nonce: req.responseNonce,
            version: st.inflight.version,
            message: err.message,
            at: now,
          };
          outcome = 'nack';
        } else {
          st.acks++;
          st.versionAcked = st.inflight.version;
          outcome = 'ack';
        }
        st.inflight = undefined;
      }
      // Else: the latest push was already answered; this request only changes the subscription.
    }
    if (this.protocol === 'sotw') this.#sotwSubscription(st, req.resourceNames ?? []);
    else this.#deltaSubscription(st, req);
    st.requested = true;
    return outcome;
  }

  #sotwSubscription(st: TypeState, names: readonly string[]): void {
    const first = !st.requested;
    const wasWildcard = st.wildcard;
    if (first) {
      st.legacyWildcard = names.length === 0;
      st.mustRespond = true;
    } else if (names.length > 0) {
      st.legacyWildcard = false;
    }
    st.wildcard = st.legacyWildcard || names.includes(WILDCARD);
    const wanted = new Set(names);
    wanted.delete(WILDCARD);
    for (const n of wanted) {
      if (!st.names.has(n)) {
        st.names.add(n);
        if (!wasWildcard) st.pending.add(n);
      }
    }
    for (const n of [...st.names]) if (!wanted.has(n)) st.names.delete(n);
    if (st.wildcard && !wasWildcard) st.pendingAll = true;
    // Whatever the client no longer asks for leaves its set without a removal notice.
    for (const n of [...st.sent.keys()]) if (!st.subscribed(n)) st.forget(n);
  }

  #deltaSubscription(st: TypeState, req: StreamRequest): void {
    const subscribe = req.subscribe ?? [];
    const unsubscribe = req.unsubscribe ?? [];
    if (!st.requested) {
      st.mustRespond = true;
      // Legacy wildcard: a first request naming nothing subscribes to everything.
      if (subscribe.length === 0) st.wildcard = true;
      for (const [name, version] of Object.entries(req.initialVersions ?? {})) {
        st.known.set(name, version);
        st.pending.add(name);
      }
    }
    for (const n of subscribe) {
      if (n === WILDCARD) {
        if (!st.wildcard) st.pendingAll = true;
        st.wildcard = true;
      } else if (!st.names.has(n)) {
        const had = st.subscribed(n);
        st.names.add(n);
        // A fresh subscription gets the resource even if an earlier one delivered it.
        if (!had && st.requested) st.known.delete(n);
        st.pending.add(n);
      }
    }
    for (const n of unsubscribe) {
      if (n === WILDCARD) {
        this.#stopSnapshot(st);
        st.wildcard = false;
        for (const k of [...st.known.keys()]) if (!st.names.has(k)) st.forget(k);
      } else {
        st.names.delete(n);
        if (!st.wildcard) st.forget(n);
      }
    }
    if (!st.requested && st.wildcard) st.pendingAll = true;
  }

  /**
   * Builds the responses to send now, in make-before-break order: upserts type by type (CDS,
   * EDS, LDS, RDS, then weft types), removals only once no upsert is waiting anywhere, and at
   * most one unacknowledged response per type.
   */
  flush(): OutgoingResponse[] {
    const out: OutgoingResponse[] = [];
    const types = this.#ordered;
    for (const st of types) this.#pull(st);
    let upsertsWaiting = false;
    for (const st of types) if (st.inflight !== undefined && st.hasWork()) upsertsWaiting = true;

    const plans: Array<{ st: TypeState; upserts: CachedResource[]; removals: string[] }> = [];
    for (const st of types) {
      if (st.inflight !== undefined || !st.hasWork()) continue;
      this.#maybeStartSnapshot(st);
      if (st.snapshot !== undefined) {
        out.push(this.#sendSnapshotChunk(st));
        if (st.snapshot !== undefined) upsertsWaiting = true;
        continue;
      }
      plans.push({ st, ...this.#classify(st) });
    }
    // Phase 1: upserts. Removals ride along only on the last type with upserts, and only when
    // nothing else still waits to be upserted.
    let lastWithUpserts = -1;
    plans.forEach((p, i) => {
      if (p.upserts.length > 0) lastWithUpserts = i;
    });
    const removalOnly: typeof plans = [];
    plans.forEach((p, i) => {
      if (p.upserts.length === 0) {
        if (p.removals.length > 0) removalOnly.push(p);
        else if (p.st.mustRespond) out.push(this.#send(p.st, [], []));
        return;
      }
      const chunk = this.#chunk(p.upserts);
      const complete = chunk.length === p.upserts.length;
      if (!complete) upsertsWaiting = true;
      const withRemovals = complete && i === lastWithUpserts && !upsertsWaiting;
      out.push(this.#send(p.st, chunk, withRemovals ? p.removals : []));
    });
    // Phase 2: removals, after every upsert has been written.
    if (!upsertsWaiting) for (const p of removalOnly) out.push(this.#send(p.st, [], p.removals));
    else for (const p of removalOnly) if (p.st.mustRespond) out.push(this.#send(p.st, [], []));
    return out;
  }

  /** Moves changes the cache recorded since our last look into `pending`. */
  #pull(st: TypeState): void {
    const cache = this.#view.cache;
    const rev = cache.typeRevision(st.typeUrl);
    if (rev <= st.seenRevision) return;
    const changed = cache.changedSince(st.typeUrl, st.seenRevision);
    st.seenRevision = rev;
    if (changed === 'all') {
      st.pendingAll = true;
      return;
    }
    if (st.pendingAll) return;
    for (const name of changed) if (st.subscribed(name)) st.pending.add(name);
  }

  /**
   * A fresh wildcard subscriber (nothing known, no filter, delta) gets the type's shared snapshot:
   * its chunks are framed once for all such streams. Changes made meanwhile wait in `pending`
   * and go out after the last chunk.
   */
  #maybeStartSnapshot(st: TypeState): void {
    if (st.snapshot !== undefined || this.protocol !== 'delta' || !st.pendingAll || !st.wildcard) return;
    if (st.known.size > 0 || st.pending.size > 0 || this.#view.filter !== undefined) return;
    const snap = this.#view.cache.snapshot(st.typeUrl, this.#limits.maxResponseBytes);
    if (snap.chunks.length === 0) return;
    st.pendingAll = false;
    st.seenRevision = snap.revision;
    st.snapshot = { snap, next: 0 };
  }

  /** Ends a snapshot early: the client holds exactly the chunks already sent. */
  #stopSnapshot(st: TypeState): void {
    const s = st.snapshot;
    if (s === undefined) return;
    st.snapshot = undefined;
    for (let i = 0; i < s.next; i++) {
      for (const name of s.snap.chunks[i]?.names ?? [])
        st.known.set(name, s.snap.versions.get(name) as string);
    }
    st.pendingAll = true;
  }

  #sendSnapshotChunk(st: TypeState): OutgoingResponse {
    const s = st.snapshot as { snap: TypeSnapshot; next: number };
    const chunk = s.snap.chunks[s.next++] as TypeSnapshot['chunks'][number];
    if (s.next >= s.snap.chunks.length) {
      st.snapshot = undefined;
      st.known.adopt(s.snap.versions);
    }
    const nonce = String(++this.#nonce);
    const version = String(this.#view.cache.revision);
    st.mustRespond = false;
    st.inflight = { nonce, version };
    st.lastNonce = nonce;
    st.versionSent = version;
    st.responses++;
    // Fresh streams number their responses alike (nonce 1, 2, ...) and read one cache revision:
    // the framed response is then the same bytes for every stream, built once per chunk.
    let framed = chunk.framed;
    if (framed === undefined || framed.version !== version || framed.nonce !== nonce) {
      framed = {
        version,
        nonce,
        bytes: encodeDeltaResponseWithBlock(version, st.typeUrl, nonce, chunk.block),
      };
      chunk.framed = framed;
    }
    return { typeUrl: st.typeUrl, nonce, bytes: framed.bytes, resourceCount: chunk.count };
  }

  #classify(st: TypeState): { upserts: CachedResource[]; removals: string[] } {
    const cache = this.#view.cache;
    if (st.pendingAll) {
      st.pendingAll = false;
      if (st.wildcard) for (const name of cache.entries(st.typeUrl).keys()) st.pending.add(name);
      else for (const name of st.names) st.pending.add(name);
      for (const name of st.known.keys()) st.pending.add(name);
    }
    const filter = this.#view.filter;
    const upserts: CachedResource[] = [];
    const removals: string[] = [];
    for (const name of st.pending) {
      let cur = st.subscribed(name) ? cache.get(st.typeUrl, name) : undefined;
      if (cur !== undefined && filter !== undefined && !filter(cur)) cur = undefined;
      const had = st.known.get(name);
      if (cur !== undefined) {
        if (cur.version !== had) upserts.push(cur);
        else st.pending.delete(name);
      } else if (had !== undefined) {
        removals.push(name);
      } else {
        st.pending.delete(name);
      }
    }
    return { upserts, removals };
  }

  #chunk(upserts: CachedResource[]): CachedResource[] {
    if (this.protocol === 'sotw') return upserts;
    let bytes = 0;
    for (let i = 0; i < upserts.length; i++) {
      bytes += (upserts[i] as CachedResource).deltaResource.length;
      if (bytes > this.#limits.maxResponseBytes && i > 0) return upserts.slice(0, i);
    }
    return upserts;
  }

  #send(st: TypeState, upserts: readonly CachedResource[], removals: readonly string[]): OutgoingResponse {
    const nonce = String(++this.#nonce);
    const version = String(this.#view.cache.revision);
    for (const r of upserts) {
      st.known.set(r.name, r.version);
      st.pending.delete(r.name);
      if (this.protocol === 'sotw') st.sent.set(r.name, r);
    }
    for (const name of removals) st.forget(name);
    st.mustRespond = false;
    st.inflight = { nonce, version };
    st.lastNonce = nonce;
    st.versionSent = version;
    st.responses++;
    let bytes: Uint8Array;
    let resourceCount: number;
    if (this.protocol === 'sotw') {
      const anys: Uint8Array[] = [];
      for (const r of st.sent.values()) anys.push(r.any);
      bytes = encodeSotwResponse(version, st.typeUrl, nonce, anys);
      resourceCount = anys.length;
    } else {
      bytes = encodeDeltaResponse(
        version,
        st.typeUrl,
        nonce,
        upserts.map((r) => r.deltaResource),
        removals,
      );
      resourceCount = upserts.length;
    }
    return { typeUrl: st.typeUrl, nonce, bytes, resourceCount };
  }

  #type(typeUrl: string): TypeState {
    let st = this.#types.get(typeUrl);
    if (st === undefined) {
      const known = PUSH_ORDER.indexOf(typeUrl);
      st = new TypeState(typeUrl, known === -1 ? PUSH_ORDER.length + this.#types.size : known);
      this.#types.set(typeUrl, st);
      this.#ordered = [...this.#types.values()].sort((a, b) => a.rank - b.rank);
    }
    return st;
  }

  status(): TypeSyncStatus[] {
    return this.#ordered.map((st) => ({
      typeUrl: st.typeUrl,
      wildcard: st.wildcard,
      names: [...st.names].slice(0, 100),
      nameCount: st.names.size,
      resourceCount: st.known.size,
      versionSent: st.versionSent,
      versionAcked: st.versionAcked,
      pendingNonce: st.inflight?.nonce,
      queued: st.pending.size,
      lastNack: st.lastNack,
      acks: st.acks,
      nacks: st.nacks,
      responses: st.responses,
    }));
  }
}
