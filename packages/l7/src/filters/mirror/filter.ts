// Traffic mirroring: for each mirror of the route rule, with its percentage, a fire-and-forget
// copy of the request goes to the mirror backend (authority suffixed "-shadow", as Envoy does).
// Its response is discarded and its failure never touches the real request.

import type { RouteMirror } from '@weft/policy';
import { rollPercent } from '@weft/policy/runtime';
import { bufferBody, discardBody } from '../../http/body.ts';
import { forwardable } from '../../http/headers.ts';
import type { Body, L7Request, L7Response } from '../../http/message.ts';
import { Cancellation } from '../../runtime.ts';
import type { Filter, FilterContext, Handler } from '../types.ts';
import type { MirrorConfig } from './config.ts';

export function shadowAuthority(authority: string): string {
  const m = /^(\[[^\]]*\]|[^:]*)(:\d+)?$/.exec(authority);
  return m === null ? `${authority}-shadow` : `${m[1]}-shadow${m[2] ?? ''}`;
}

export function mirrorFilter(cfg: MirrorConfig, fctx: FilterContext): Filter {
  const c = fctx.telemetry.counters;
  return (next) => (req) => {
    const mirrors = req.ctx.route?.rule.filters.mirrors;
    if (mirrors === undefined || mirrors.length === 0) return next(req);
    return copy(req, mirrors, next);
  };

  async function copy(req: L7Request, mirrors: readonly RouteMirror[], next: Handler): Promise<L7Response> {
    const route = req.ctx.route;
    if (route === undefined) return next(req);
    const chosen = mirrors.filter((m) => rollPercent(m.percent, fctx.random));
    if (chosen.length === 0) return next(req);
    let body: Body = req.body;
    if (body.kind === 'stream') {
      if (body.length === undefined || body.length > cfg.maxBodyBytes) {
        c.mirrorSkipped.inc(chosen.length);
        return next(req);
      }
      const r = await bufferBody(body, cfg.maxBodyBytes);
      if (!r.ok) {
        c.mirrorSkipped.inc(chosen.length);
        return next(req);
      }
      body = r.body;
      req.body = body;
    }
    const state = req.ctx.state;
    for (const m of chosen) {
      const cr = fctx.upstreams.cluster(
        state,
        m.backend.host,
        m.backend.port ?? route.servicePort,
        m.backend.subset,
      );
      const ep = cr.ok ? cr.cluster.pick({}) : undefined;
      if (!cr.ok || ep === undefined) {
        c.mirrorFailed.inc();
        continue;
      }
      c.mirrored.inc();
      const headers = forwardable(req.headers, cr.cluster.protocol === 'h2');
      fctx.upstreams
        .send(
          cr.cluster,
          ep,
          { method: req.method, path: req.path, authority: shadowAuthority(req.authority), headers, body },
          {
            cancel: Cancellation.timeout(cfg.timeoutMs),
          },
        )
        .then(
          (r) => {
            if (r.ok) discardBody(r.response.body);
            else c.mirrorFailed.inc();
          },
          () => c.mirrorFailed.inc(),
        );
    }
    return next(req);
  }
}
