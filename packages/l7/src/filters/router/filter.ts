// The terminal filter: executes the upstream plan (`plan.ts`: logical (service, route backend)
// -> concrete (cluster), timeouts, retry allowance), then the endpoint and the attempts: pool
// limits (UO), load balancing (UH when none), per-try and request timeouts (UT), retries with
// backoff and a budget (URX when exhausted), outlier reporting, and the response handed back
// with its body still streaming.
import type { LoadBalancerPolicy, RetryPolicy, WeightedBackend } from '@weft/policy';
import type { ResponseFlag } from '@weft/telemetry';
import { discardBody } from '../../http/body.ts';
import { applyHeaderModifier, first, forwardable } from '../../http/headers.ts';
import { GRPC, localReply } from '../../http/local-reply.ts';
import type { Body, L7Request, L7Response } from '../../http/message.ts';
import { ReplayableBody } from '../../http/replay.ts';
import { Cancellation } from '../../runtime.ts';
import { grpcStatusOf } from '../../upstream/http2.ts';
import { outcomeForStatus } from '../../upstream/outlier.ts';
import type { SendFailure, UpstreamRequest } from '../../upstream/transport.ts';
import { clusterFor } from '../../upstream/upstreams.ts';
import type { Filter, FilterContext } from '../types.ts';
import type { RouterConfig } from './config.ts';
import { planUpstream } from './plan.ts';
import { type AttemptOutcome, backoffMs, isRetriable, retryAllowed } from './retry.ts';

/** The consistent-hash key of a request, when the policy hashes and the request has one. */
export function hashKeyOf(lb: LoadBalancerPolicy | undefined, req: L7Request): string | undefined {
  if (lb?.type !== 'consistent-hash') return undefined;
  const key = lb.key;
  if ('header' in key) return first(req.headers, key.header);
  if ('sourceIp' in key) return req.ctx.downstream.forwardedFor ?? req.ctx.downstream.remoteIp;
  if ('cookie' in key) return cookieValue(req, key.cookie.name);
  const q = req.path.indexOf('?');
  if (q < 0) return undefined;
  for (const part of req.path.slice(q + 1).split('&')) {
    const eq = part.indexOf('=');
    const name = eq < 0 ? part : part.slice(0, eq);
    if (name === key.queryParameter) return eq < 0 ? '' : part.slice(eq + 1);
  }
  return undefined;
}

export function cookieValue(req: L7Request, name: string): string | undefined {
  const raw = req.headers.cookie;
  if (raw === undefined) return undefined;
  for (const line of typeof raw === 'string' ? [raw] : raw)
    for (const part of line.split(';')) {
      const eq = part.indexOf('=');
      if (eq < 0) continue;
      if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
    }
  return undefined;
}

const FAILURE_REPLY: Record<
  Exclude<SendFailure, 'aborted'>,
  { status: number; flag: ResponseFlag; reason: string }
> = {
  'connect-failure': { status: 503, flag: 'UF', reason: 'connection failure' },
  reset: { status: 503, flag: 'UR', reason: 'remote reset' },
  'refused-stream': { status: 503, flag: 'UR', reason: 'remote refused stream reset' },
  'protocol-error': { status: 502, flag: 'UPE', reason: 'protocol error' },
};

function addFlag(req: L7Request, f: ResponseFlag): void {
  if (!req.ctx.flags.includes(f)) req.ctx.flags.push(f);
}

export function routerFilter(cfg: RouterConfig, fctx: FilterContext): Filter {
  const { upstreams, clock, random, delay } = fctx;
  const retriesCounter = fctx.telemetry.counters.retries;
  const ejections = fctx.telemetry.counters.ejections;

  return () => async (req) => {
    const ctx = req.ctx;
    const state = ctx.state;

    const plan = planUpstream({
      route: ctx.route,
      target: ctx.target,
      startMono: ctx.startMono,
      callerDeadline: ctx.deadline,
      upgrade: req.upgrade !== undefined,
      body:
        req.body.kind === 'stream'
          ? { streaming: true, length: req.body.length }
          : { streaming: false, length: undefined },
      retryBufferBytes: cfg.retryBufferBytes,
      random,
    });
    if (plan.kind === 'reply') return localReply(req, plan.status, plan.message, { flags: plan.flags });
    const { backend, deadline, perTryMs: perTry } = plan;
    const { policy, attempts } = plan.retry;
    const cr = clusterFor(upstreams, state, plan.cluster);
    if (!cr.ok)
      return localReply(req, plan.clusterMissing.status, `${plan.clusterMissing.prefix}${cr.detail}`, {
        flags: ['NC'],
      });
    const cluster = cr.cluster;

    const headers = forwardable(req.headers, cluster.protocol === 'h2');
    if (backend?.requestHeaders !== undefined) applyHeaderModifier(headers, backend.requestHeaders);
    if (headers['x-forwarded-proto'] === undefined) headers['x-forwarded-proto'] = req.scheme;

    // a streaming body is sent as it arrives; a copy (up to retryBufferBytes) makes it replayable
    let body: Body = req.body;
    let replay: ReplayableBody | undefined;
    if (plan.retry.replay && body.kind === 'stream') {
      replay = new ReplayableBody(body, cfg.retryBufferBytes);
      body = replay.next() ?? body;
    }
    let upstreamReq: UpstreamRequest = {
      method: req.method,
      path: req.path,
      authority: req.authority,
      headers,
      body,
      upgrade: req.upgrade,
    };
    /** Whether attempt number `attempt` may be followed by another (attempts left, body replayable). */
    const canRetry = (attempt: number): boolean => {
      if (attempt >= attempts) return false;
      if (replay === undefined) return true;
      const b = replay.next();
      if (b === undefined) return false;
      upstreamReq = { ...upstreamReq, body: b };
      return true;
    };
    const hashKey = hashKeyOf(cluster.policy.loadBalancer, req);
    const tried = new Set<string>();
    const forwardedFor = ctx.downstream.forwardedFor ?? ctx.downstream.remoteIp;

    for (let attempt = 0; ; attempt++) {
      const isRetry = attempt > 0;
      const limits = cluster.limits;
      let admission = limits.admit(ctx.cancel);
      if (admission instanceof Promise) admission = await admission;
      if (!admission.ok) {
        if (admission.reason === 'aborted')
          return localReply(req, 499, 'downstream closed', { flags: ['DC'] });
        return localReply(
          req,
          503,
          'upstream connect error or disconnect/reset before headers. reset reason: overflow',
          {
            flags: ['UO'],
          },
        );
      }
      const release = admission.release;
      const ep = cluster.pick({ hashKey }, tried);
      if (ep === undefined) {
        release();
        return localReply(req, 503, 'no healthy upstream', { flags: ['UH'] });
      }
      tried.add(ep.address);
      ctx.upstream = { address: ep.address, workloadUid: ep.workloadUid, service: cluster.host };
      ep.active++;
      if (isRetry) limits.retriesActive++;

      // the attempt's signal: downstream gone, per-try timeout, request deadline
      const ac = new Cancellation();
      let why: 'downstream' | 'per-try' | 'deadline' | undefined;
      const onDown = () => {
        why ??= 'downstream';
        ac.abort();
      };
      ctx.cancel.onAbort(onDown);
      let perTryTimer: ReturnType<typeof setTimeout> | undefined;
      let deadlineTimer: ReturnType<typeof setTimeout> | undefined;
      const now = clock.now();
      if (deadline !== undefined) {
        const left = deadline - now;
        if (left <= 0) {
          why = 'deadline';
          ac.abort();
        } else
          deadlineTimer = setTimeout(() => {
            why ??= 'deadline';
            ac.abort();
          }, left);
      }
      if (perTry !== undefined && perTry > 0 && (deadline === undefined || now + perTry < deadline)) {
        perTryTimer = setTimeout(() => {
          why ??= 'per-try';
          ac.abort();
        }, perTry);
      }
      let finished = false;
      const finishAttempt = () => {
        if (finished) return;
        finished = true;
        if (perTryTimer !== undefined) clearTimeout(perTryTimer);
        if (deadlineTimer !== undefined) clearTimeout(deadlineTimer);
        ctx.cancel.offAbort(onDown);
        ep.active--;
        release();
      };

      const result = await upstreams.send(cluster, ep, upstreamReq, { cancel: ac, forwardedFor });
      if (isRetry) limits.retriesActive--;
      if (perTryTimer !== undefined) {
        clearTimeout(perTryTimer);
        perTryTimer = undefined;
      }

      let outcome: AttemptOutcome;
      if (result.ok) {
        const res = result.response;
        res.grpcStatus ??= grpcStatusOf(res.headers);
        outcome = { kind: 'response', status: res.status, grpcStatus: res.grpcStatus };
        if (cluster.report(ep, outcomeForStatus(res.status))) ejections.inc();
        if (isRetriable(policy, outcome)) {
          if (
            retryAllowed(cfg.retryBudget, limits.retriesActive, limits.active, limits.maxRetries) &&
            canRetry(attempt)
          ) {
            discardBody(res.body);
            finishAttempt();
            if (!(await backoff(policy, attempt)))
              return localReply(req, 499, 'downstream closed', { flags: ['DC'] });
            continue;
          }
          if (attempts > 0) addFlag(req, 'URX');
        }
        return deliver(req, res, backend, ac, finishAttempt, () => why, cfg.idleTimeoutMs);
      }

      // no response headers
      finishAttempt();
      const failure = result.failure;
      if (failure === 'aborted' || why !== undefined) {
        if (why === 'downstream' || why === undefined)
          return localReply(req, 499, 'downstream closed', { flags: ['DC'] });
        if (cluster.report(ep, 'gateway-error')) ejections.inc();
        if (why === 'per-try') {
          outcome = { kind: 'per-try-timeout' };
          if (
            isRetriable(policy, outcome) &&
            retryAllowed(cfg.retryBudget, limits.retriesActive, limits.active, limits.maxRetries) &&
            canRetry(attempt)
          ) {
            if (!(await backoff(policy, attempt)))
              return localReply(req, 499, 'downstream closed', { flags: ['DC'] });
            continue;
          }
        }
        if (attempts > 0 && attempt >= attempts) addFlag(req, 'URX');
        return localReply(req, 504, 'upstream request timeout', {
          flags: ['UT'],
          ...(ctx.grpc ? { grpcStatus: GRPC.DEADLINE_EXCEEDED } : {}),
        });
      }
      if (cluster.report(ep, 'gateway-error')) ejections.inc();
      const retriable = failure !== 'protocol-error' && isRetriable(policy, { kind: failure });
      if (
        retriable &&
        retryAllowed(cfg.retryBudget, limits.retriesActive, limits.active, limits.maxRetries) &&
        canRetry(attempt)
      ) {
        if (!(await backoff(policy, attempt)))
          return localReply(req, 499, 'downstream closed', { flags: ['DC'] });
        continue;
      }
      const reply = FAILURE_REPLY[failure];
      const flags: ResponseFlag[] = [reply.flag];
      if (attempts > 0 && attempt >= attempts && retriable) flags.push('URX');
      return localReply(
        req,
        reply.status,
        `upstream connect error or disconnect/reset before headers. reset reason: ${reply.reason}`,
        { flags },
      );
    }

    async function backoff(p: RetryPolicy, attempt: number): Promise<boolean> {
      ctx.retries++;
      retriesCounter.inc();
      try {
        await delay(backoffMs(p, attempt, random), ctx.cancel.signal);
        return true;
      } catch {
        return false;
      }
    }
  };
}

/**
 * Hands the response back: applies the backend's response headers and keeps the attempt's
 * resources (pool slot, deadline timer) until the body has streamed out. A deadline or idle
 * timeout firing mid-body resets the body stream (flag UT / SI).
 */
function deliver(
  req: L7Request,
  res: L7Response,
  backend: WeightedBackend | undefined,
  ac: Cancellation,
  finish: () => void,
  why: () => string | undefined,
  idleTimeoutMs: number,
): L7Response {
  if (backend?.responseHeaders !== undefined && res.upgraded === undefined)
    applyHeaderModifier(res.headers, backend.responseHeaders);
  if (res.upgraded !== undefined) {
    const s = res.upgraded.socket;
    s.once('close', finish);
    return res;
  }
  const body = res.body;
  if (body.kind !== 'stream') {
    finish();
    return res;
  }
  const stream = body.stream as typeof body.stream & { setTimeout?: (ms: number, cb: () => void) => unknown };
  const onAbort = () => {
    const w = why();
    if (w === 'deadline') addFlag(req, 'UT');
    if (!stream.destroyed)
      stream.destroy(
        Object.assign(new Error(`response aborted (${w ?? 'cancelled'})`), { code: 'ECONNRESET' }),
      );
  };
  const done = () => {
    ac.offAbort(onAbort);
    finish();
  };
  ac.onAbort(onAbort);
  stream.once('end', done);
  stream.once('close', done);
  if (idleTimeoutMs > 0 && typeof stream.setTimeout === 'function') {
    // the stream's own inactivity timer (socket or HTTP/2 stream): no data listener needed
    stream.setTimeout(idleTimeoutMs, () => {
      addFlag(req, 'SI');
      if (!stream.destroyed)
        stream.destroy(Object.assign(new Error('stream idle timeout'), { code: 'ETIMEDOUT' }));
    });
  }
  return res;
}
