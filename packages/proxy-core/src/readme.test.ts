// The README example, run as written.
import { expect, it } from 'vitest';
import { stringify } from 'yaml';
import { createStateStore, decideInboundHbone, loadManifests, planOutbound } from './index.ts';
import { localMeshLayout, localMeshObjects } from './testing/index.ts';

it('README example', async () => {
  const layout = localMeshLayout(7, 8);
  const manifests = localMeshObjects({ layout })
    .map((o) => stringify(o))
    .join('---\n');
  const clientIp = layout.client;
  const echoIp = layout.echo1;

  // --- README example starts here
  const store = createStateStore();
  await loadManifests(store, manifests); // the static loader; the xDS source writes the same way
  const plan = planOutbound(
    store.state,
    { sourceIp: clientIp, target: { kind: 'hostname', hostname: 'echo.demo.svc.cluster.local', port: 80 } },
    { nodeName: 'node-b', mode: 'ambient', pick: () => 0 },
  );
  // plan.kind === 'hbone': tunnel to <echo pod IP>:15008, :authority <echo pod IP>:8080.
  const inbound = decideInboundHbone(store.state, {
    nodeName: 'node-a',
    mode: 'ambient',
    destination: { ip: echoIp, port: 8080 },
    peerIdentity: 'spiffe://cluster.local/ns/demo/sa/client',
    sourceIp: clientIp,
  });
  // inbound.allow === true: no policy selects echo, so the L4 decision allows it.
  // --- README example ends here

  expect(plan.kind).toBe('hbone');
  if (plan.kind === 'hbone') {
    expect(plan.via).toEqual({ ip: layout.echo1, port: 15008 });
    expect(plan.authority).toEqual({ ip: layout.echo1, port: 8080 });
  }
  expect(inbound.allow).toBe(true);
});
