import { compile, type MeshSnapshot } from '@weft/policy';
import { describe, expect, it } from 'vitest';
import { testMesh, waypointMesh } from '../testing/index.ts';
import { admitWaypoint, viewSignature, waypointView } from './waypoint-view.ts';

function snapshotOf(objects: readonly unknown[]): MeshSnapshot {
  const { snapshot, errors } = compile(objects);
  expect(errors).toEqual([]);
  return snapshot;
}

const snapshot = snapshotOf(waypointMesh());
const sorted = (s: ReadonlySet<string>) => [...s].sort();

describe('waypointView', () => {
  const view = waypointView(snapshot, 'demo/waypoint');

  it('holds the bound services and the services their routes send to, not the rest', () => {
    expect(sorted(view.services)).toEqual([
      'demo/echo-v1.demo.svc.cluster.local',
      'demo/echo-v2.demo.svc.cluster.local',
      'demo/echo.demo.svc.cluster.local',
    ]);
  });

  it("holds the endpoints' workloads and the waypoint's own pod, not unrelated workloads", () => {
    expect(sorted(view.workloads)).toEqual(['uid-echo-a', 'uid-echo-b', 'uid-waypoint-0']);
  });

  it('holds the route tables of the bound services only', () => {
    expect(sorted(view.httpRoutes)).toEqual(['echo.demo.svc.cluster.local:80']);
  });

  it('holds the DestinationRules of every service in the view', () => {
    expect(sorted(view.backendPolicies)).toEqual(['demo/echo-v2.demo.svc.cluster.local']);
  });

  it('holds the policies targeting the Gateway or a bound service, no selector policies', () => {
    expect(sorted(view.authorizations)).toEqual(['demo/echo-deny-delete', 'demo/gateway-deny-delete']);
  });

  it('is empty for an unknown waypoint and before the first snapshot', () => {
    for (const v of [waypointView(snapshot, 'demo/nope'), waypointView(undefined, 'demo/waypoint')]) {
      expect(viewSignature(v)).toBe('||||');
    }
  });

  it('changes its signature only when what it admits changes', () => {
    const again = waypointView(snapshotOf(waypointMesh()), 'demo/waypoint');
    expect(viewSignature(again)).toBe(viewSignature(view));
    const unbound = waypointMesh().map((o) =>
      o.kind === 'Service' && (o.metadata as { name: string }).name === 'echo'
        ? { ...o, metadata: { name: 'echo', namespace: 'demo' } }
        : o,
    );
    const after = waypointView(snapshotOf(unbound), 'demo/waypoint');
    expect(sorted(after.services)).toEqual([]);
    expect(sorted(after.workloads)).toEqual(['uid-waypoint-0']);
    expect(sorted(after.authorizations)).toEqual(['demo/gateway-deny-delete']);
  });
});

describe('admitWaypoint', () => {
  const noPods = snapshotOf(
    waypointMesh().filter((o) => (o.metadata as { name: string }).name !== 'waypoint-0'),
  );
  it.each([
    {
      name: 'its pods service account',
      s: snapshot,
      key: 'demo/waypoint',
      caller: 'demo/waypoint',
      ok: true,
    },
    {
      name: 'another account of the namespace',
      s: snapshot,
      key: 'demo/waypoint',
      caller: 'demo/client',
      ok: false,
    },
    {
      name: 'the same account name elsewhere',
      s: snapshot,
      key: 'demo/waypoint',
      caller: 'other/waypoint',
      ok: false,
    },
    { name: 'a Gateway that does not exist', s: snapshot, key: 'demo/nope', caller: 'demo/nope', ok: false },
    { name: 'no snapshot yet', s: undefined, key: 'demo/waypoint', caller: 'demo/waypoint', ok: false },
    {
      name: 'no pods yet: the Gateway name',
      s: noPods,
      key: 'demo/waypoint',
      caller: 'demo/waypoint',
      ok: true,
    },
    {
      name: 'no pods yet: another account',
      s: noPods,
      key: 'demo/waypoint',
      caller: 'demo/client',
      ok: false,
    },
    {
      name: 'a mesh without waypoints',
      s: snapshotOf(testMesh()),
      key: 'demo/waypoint',
      caller: 'demo/waypoint',
      ok: false,
    },
  ])('$name -> $ok', ({ s, key, caller, ok }) => {
    const [namespace = '', serviceAccount = ''] = caller.split('/');
    const r = admitWaypoint(s, key, { namespace, serviceAccount });
    expect(r.ok).toBe(ok);
  });

  it('says why', () => {
    expect(admitWaypoint(snapshot, 'demo/waypoint', { namespace: 'demo', serviceAccount: 'client' })).toEqual(
      {
        ok: false,
        error: 'demo/client is not the service account of waypoint demo/waypoint (waypoint)',
      },
    );
  });
});
