import { authorizationPolicy, waypointGateway } from '@weft/policy/testing';
import { describe, expect, it } from 'vitest';
import { readBodyText } from '../../http/body.ts';
import { CLIENT, SHOP, serviceWith } from '../../test-support/mesh.ts';
import { fakeFilterContext, makeRequest, recorder, stateOf } from '../../test-support/requests.ts';
import { configureRbac } from './config.ts';

const state = stateOf(
  [
    ...SHOP,
    waypointGateway('waypoint', { namespace: 'shop' }),
    ...serviceWith([{ name: 'web-1', ip: '127.0.0.1', port: 8080 }]),
    authorizationPolicy('allow-client-get', {
      namespace: 'shop',
      targetRefs: [{ kind: 'Service', name: 'web' }],
      rules: [
        {
          from: [{ source: { principals: ['cluster.local/ns/legacy/sa/client'] } }],
          to: [{ operation: { methods: ['GET'], paths: ['/public/*', '/api/*'] } }],
        },
      ],
    }),
    authorizationPolicy('deny-admin', {
      namespace: 'shop',
      action: 'DENY',
      targetRefs: [{ kind: 'Gateway', name: 'waypoint' }],
      rules: [{ to: [{ operation: { paths: ['/api/admin'] } }] }],
    }),
  ],
  'shop/waypoint',
);

function run(spec: Parameters<typeof makeRequest>[1], config: unknown = {}) {
  const r = configureRbac(config);
  if (!r.ok) throw new Error(r.error.message);
  const next = recorder();
  const req = makeRequest(state, spec);
  return { res: r.value(fakeFilterContext())(next)(req), req, next };
}

describe('rbac filter', () => {
  it.each([
    ['allowed principal, method and path', { principal: CLIENT, path: '/public/a' }, 200],
    ['no principal', { path: '/public/a' }, 403],
    ['wrong method', { principal: CLIENT, method: 'POST', path: '/public/a' }, 403],
    ['path outside the allow list', { principal: CLIENT, path: '/private' }, 403],
    ['DENY on the waypoint wins', { principal: CLIENT, path: '/api/admin' }, 403],
    ['upper-case path is not in the allow list', { principal: CLIENT, path: '/PUBLIC/a' }, 403],
  ] as const)('%s -> %i', async (_name, spec, status) => {
    const { res } = run(spec);
    expect((await res).status).toBe(status);
  });

  it('answers 403 "RBAC: access denied" and records the decision', async () => {
    const { res, req } = run({ principal: CLIENT, path: '/api/admin' });
    const out = await res;
    expect(await readBodyText(out.body)).toBe('RBAC: access denied');
    expect(req.ctx.rbac).toEqual({ decision: 'deny', policy: 'shop/deny-admin' });
    expect(req.ctx.flags).toEqual(['RBAC']);
  });

  it('records the allowing policy', async () => {
    const { res, req, next } = run({ principal: CLIENT, path: '/api/x' });
    expect((await res).status).toBe(200);
    expect(next.seen).toHaveLength(1);
    expect(req.ctx.rbac).toEqual({ decision: 'allow', policy: 'shop/allow-client-get' });
  });

  it('a path that does not normalize is a 400', async () => {
    const { res } = run({ principal: CLIENT, path: '/api%2Fadmin' });
    expect((await res).status).toBe(400);
  });

  it('in shadow mode (enforce: false) lets a denied request through, still logging deny', async () => {
    const { res, req } = run({ path: '/x' }, { enforce: false });
    expect((await res).status).toBe(200);
    expect(req.ctx.rbac?.decision).toBe('deny');
  });

  it('refuses unknown config fields', () => {
    const r = configureRbac({ enforced: true });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatchObject({ filter: 'rbac', field: 'enforced' });
  });
});
