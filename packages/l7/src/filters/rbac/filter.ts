// L7 authorization with @weft/policy's `authorize` (the same evaluator every data plane uses):
// the policies the engine's role applies to the destination (`role.ts`: at a waypoint, those
// attached to the destination service and to the waypoint), evaluated on the caller's peer
// identity and the normalized request. Deny: 403 "RBAC: access denied".

import type { AuthzPolicy } from '@weft/policy';
import { authorize } from '@weft/policy/runtime';
import { localReply } from '../../http/local-reply.ts';
import type { Filter, FilterContext } from '../types.ts';
import type { RbacConfig } from './config.ts';

export const RBAC_DENIED_BODY = 'RBAC: access denied';

// Whether any rule of a policy set looks at request headers (computed once per set: the
// evaluator then skips building a header index on every request).
const readsHeaders = new WeakMap<readonly AuthzPolicy[], boolean>();
function needsHeaders(policies: readonly AuthzPolicy[]): boolean {
  let v = readsHeaders.get(policies);
  if (v === undefined) {
    v = policies.some((p) => p.rules.some((r) => r.when.some((c) => c.key.startsWith('request.headers'))));
    readsHeaders.set(policies, v);
  }
  return v;
}

export function rbacFilter(cfg: RbacConfig, _fctx: FilterContext): Filter {
  return (next) => (req) => {
    const ctx = req.ctx;
    const policies = ctx.applied.policies;
    if (policies === undefined || policies.length === 0) return next(req);
    const d = ctx.downstream;
    const decision = authorize(
      policies,
      {
        ...(d.principal !== undefined ? { sourcePrincipal: d.principal } : {}),
        sourceIp: d.forwardedFor ?? d.remoteIp,
        destinationIp: d.destinationIp,
        destinationPort: d.destinationPort,
        host: req.authority,
        method: req.method,
        path: req.path,
        ...(needsHeaders(policies)
          ? { headers: req.headers as Readonly<Record<string, string | readonly string[]>> }
          : {}),
      },
      { mode: 'L7' },
    );
    if (decision.code === 'invalid-request') {
      return Promise.resolve(localReply(req, 400, `invalid request: ${decision.reason}`));
    }
    ctx.rbac = { decision: decision.action === 'ALLOW' ? 'allow' : 'deny', policy: decision.policy };
    if (decision.action === 'DENY' && cfg.enforce) {
      return Promise.resolve(localReply(req, 403, RBAC_DENIED_BODY, { flags: ['RBAC'] }));
    }
    return next(req);
  };
}
