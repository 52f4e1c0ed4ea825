import { describe, expect, it } from 'vitest';
import { AuthorizationAction, AuthorizationScope } from './gen/weft/v1/authorization.ts';
import { HttpRoutes } from './gen/weft/v1/http_routes.ts';
import { Workload } from './gen/weft/v1/workload.ts';
import { testService, testWorkload } from './testing/index.ts';
import { WEFT_TYPE_URL } from './type-urls.ts';
import { decodeWeft, validateWeft, weftResource, weftResourceName } from './weft-resources.ts';

describe('weft.v1 resources', () => {
  it('encode under their canonical names and decode back', () => {
    const w = testWorkload('echo');
    const r = weftResource('workload', w);
    expect(r).toMatchObject({ typeUrl: WEFT_TYPE_URL.workload, name: 'cluster.local//Pod/default/echo' });
    const back = decodeWeft('workload', r.value, r.name);
    expect(back.ok && back.value.identity).toBe('spiffe://cluster.local/ns/default/sa/echo');
    expect(weftResourceName.service(testService('echo', []))).toBe('default/echo.default.svc.cluster.local');
  });

  it('keeps the caller version, or hashes the content', () => {
    expect(weftResource('workload', testWorkload('a'), 'h1').version).toBe('h1');
    const x = weftResource('workload', testWorkload('a'));
    expect(x.version).toBe(weftResource('workload', testWorkload('a')).version);
    expect(x.version).not.toBe(weftResource('workload', testWorkload('b')).version);
  });

  it.each([
    ['workload', Workload.encode(testWorkload('a', { uid: '' })).finish(), '', 'uid: empty'],
    [
      'workload',
      Workload.encode(testWorkload('a', { addresses: [new Uint8Array(5)] })).finish(),
      'cluster.local//Pod/default/a',
      'addresses[0]: 5 bytes, want 4 or 16',
    ],
    [
      'workload',
      Workload.encode(testWorkload('a', { waypoint: { hbonePort: 0, identity: '', gateway: '' } })).finish(),
      'cluster.local//Pod/default/a',
      'waypoint: needs address or hostname',
    ],
    [
      'workload',
      Workload.encode(testWorkload('a')).finish(),
      'other',
      'name: resource is "cluster.local//Pod/default/a", sent as "other"',
    ],
    ['workload', new Uint8Array([0x0a, 0x10]), 'x', 'malformed type.googleapis.com/weft.v1.Workload'],
    [
      'httpRoutes',
      HttpRoutes.encode(
        HttpRoutes.fromPartial({
          hostname: 'h',
          port: 80,
          rules: [{ name: 'r', backends: [{ hostname: '' }] }],
        }),
      ).finish(),
      'h:80',
      'rules[0].backends[0].hostname: empty',
    ],
  ] as const)('rejects a bad %s (%#)', (kind, bytes, name, error) => {
    const r = decodeWeft(kind, bytes, name);
    expect(r.ok).toBe(false);
    expect(r.ok ? '' : r.error).toContain(error);
  });

  it('accepts a route rule with no backends and no redirect (the proxy answers 500 for it)', () => {
    const bytes = HttpRoutes.encode(
      HttpRoutes.fromPartial({ hostname: 'h', port: 80, rules: [{ name: 'r' }] }),
    ).finish();
    const r = decodeWeft('httpRoutes', bytes, 'h:80');
    expect(r.ok ? r.value.rules[0]?.backends : r.error).toEqual([]);
  });

  it('checks services and authorizations', () => {
    expect(
      validateWeft.service(
        testService('s', [], { ports: [{ port: 0, targetPort: 1, appProtocol: '', name: '' }] } as never),
      ),
    ).toBe('ports[0].port: 0 out of range');
    const authz = {
      name: 'p',
      namespace: 'ns',
      scope: AuthorizationScope.AUTHORIZATION_SCOPE_NAMESPACE,
      action: AuthorizationAction.AUTHORIZATION_ACTION_UNSPECIFIED,
      selector: {},
      targetRefs: [],
      rules: [],
      dryRun: false,
    };
    expect(validateWeft.authorization(authz as never)).toBe('action: unset');
  });
});
