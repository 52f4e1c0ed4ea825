// The proxies bench/waypoint.ts measures, as child processes. Plain JavaScript so that Node runs
// it as production does, from the packages' built `dist/` (build first: `pnpm build`), without a
// TypeScript loader in the measured process (a loader and the sources it compiles hold ~80 MiB);
// Bun runs it with `--conditions=weft-source`, from the sources.
//
//   waypoint-child.mjs plain <upstreamPort>
//     the L7 engine behind its plaintext HTTP/1.1 listener (service `echo`, VIP 10.96.0.1:80)
//   waypoint-child.mjs mesh <certs.json> <upstreamPort> <endpointHbonePort>
//     a waypoint from createWaypoint (HBONE in, endpoints over HBONE) for service `web` in `shop`
//
// Both carry the same route (prefix match + request header modifier) and an ALLOW policy on GET,
// with the default filter chain and access logs off. Each prints `port <n>` once serving.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

function routeAndPolicy(t, ns, svc, policyTarget) {
  return [
    t.httpRoute(svc, {
      namespace: ns,
      service: svc,
      rules: [
        {
          matches: [{ path: { type: 'PathPrefix', value: '/' } }],
          filters: [
            {
              type: 'RequestHeaderModifier',
              requestHeaderModifier: { set: [{ name: 'x-bench', value: 'waypoint' }] },
            },
          ],
          backendRefs: [{ name: svc, port: 80 }],
        },
      ],
    }),
    t.authorizationPolicy('allow-get', {
      namespace: ns,
      targetRefs: [policyTarget],
      rules: [{ to: [{ operation: { methods: ['GET'], paths: ['/*'] } }] }],
    }),
  ];
}

async function plain(upstreamPort) {
  const { applyUpdate, batchFromSnapshot, createEngine, listenPlaintext } = await import('@weft/l7');
  const { compile } = await import('@weft/policy');
  const t = await import('@weft/policy/testing');
  const vip = '10.96.0.1';
  const { snapshot, errors } = compile([
    t.namespace('bench'),
    t.pod('echo-1', {
      namespace: 'bench',
      ip: '127.0.0.1',
      labels: { app: 'echo' },
      ports: [{ name: 'http', containerPort: upstreamPort }],
    }),
    t.service('echo', {
      namespace: 'bench',
      clusterIP: vip,
      ports: [{ name: 'http', port: 80, targetPort: 'http' }],
    }),
    ...routeAndPolicy(t, 'bench', 'echo', { kind: 'Service', name: 'echo' }),
  ]);
  if (errors.length > 0) throw new Error(errors.map((e) => e.message).join('; '));
  const engine = createEngine({});
  applyUpdate(engine.store, batchFromSnapshot(snapshot));
  const listener = await listenPlaintext(engine, { protocol: 'http1', destination: { ip: vip, port: 80 } });
  process.stdout.write(`port ${listener.address.port}\n`);
}

async function mesh(certsFile, upstreamPort, endpointHbonePort) {
  const { createWaypoint } = await import('@weft/waypoint');
  const { applyUpdate, batchFromSnapshot } = await import('@weft/l7');
  const { compileMesh, SHOP, serviceWith } = await import('@weft/l7/testing');
  const t = await import('@weft/policy/testing');
  // @weft/hbone through @weft/waypoint's dependencies (bench/ does not depend on it directly)
  const req = createRequire(new URL('../../packages/waypoint/package.json', import.meta.url));
  const { createCertStore } = await import(pathToFileURL(req.resolve('@weft/hbone')).href);
  const certs = JSON.parse(readFileSync(certsFile, 'utf8'));
  const snapshot = compileMesh([
    ...SHOP,
    t.waypointGateway('waypoint', { namespace: 'shop' }),
    ...serviceWith([{ name: 'web-1', ip: '127.0.0.1', port: upstreamPort }]),
    ...routeAndPolicy(t, 'shop', 'web', { kind: 'Gateway', name: 'waypoint' }),
  ]);
  const any = { host: '127.0.0.1', port: 0 };
  const waypoint = await createWaypoint(
    {
      name: 'shop/waypoint',
      hbone: any,
      admin: any,
      metrics: any,
      readiness: any,
      upstreamHbonePort: endpointHbonePort,
    },
    { certs: createCertStore(certs) },
  );
  applyUpdate(waypoint.store, batchFromSnapshot(snapshot));
  process.stdout.write(`port ${waypoint.addresses.hbone.port}\n`);
}

const [mode, ...args] = process.argv.slice(2);
// exit cleanly on SIGTERM (so `node --cpu-prof` writes its profile)
process.once('SIGTERM', () => process.exit(0));
if (mode === 'plain') await plain(Number(args[0]));
else if (mode === 'mesh') await mesh(args[0] ?? '', Number(args[1]), Number(args[2]));
else throw new Error(`waypoint-child: unknown mode ${JSON.stringify(mode)} (plain | mesh)`);
