// The proxies bench/waypoint.ts measures, as child processes. Plain JavaScript so that Node runs
// it as production does, from the packages' built `dist/` (build first: `pnpm build`), without a
// TypeScript loader in the measured process (a loader and the sources it compiles hold ~80 MiB);
// Bun runs it with `--conditions=weft-source`, from the sources.
//
//   waypoint-child.mjs plain <snapshot.json>
//     the L7 engine behind its plaintext HTTP/1.1 listener (service `echo`; the file holds
//     { vip, snapshot })
//   waypoint-child.mjs mesh <certs.json> <snapshot.json> <endpointHbonePort>
//     a waypoint from createWaypoint (HBONE in, endpoints over HBONE) for service `web` in `shop`
//
// The snapshots come compiled from the bench (lib/waypoint-config.ts), as a waypoint gets its
// config over xDS: the child never loads the policy compiler. Default filter chain, access logs
// off. Each prints `port <n>` once serving.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

function readSnapshot(file) {
  return JSON.parse(readFileSync(file, 'utf8'));
}

async function plain(snapshotFile) {
  const { applyUpdate, batchFromSnapshot, createEngine, listenPlaintext } = await import('@weft/l7');
  const { vip, snapshot } = readSnapshot(snapshotFile);
  const engine = createEngine({});
  applyUpdate(engine.store, batchFromSnapshot(snapshot));
  const listener = await listenPlaintext(engine, { protocol: 'http1', destination: { ip: vip, port: 80 } });
  process.stdout.write(`port ${listener.address.port}\n`);
}

async function mesh(certsFile, snapshotFile, endpointHbonePort) {
  const { createWaypoint } = await import('@weft/waypoint');
  const { applyUpdate, batchFromSnapshot } = await import('@weft/l7');
  // @weft/hbone through @weft/waypoint's dependencies (bench/ does not depend on it directly)
  const req = createRequire(new URL('../../packages/waypoint/package.json', import.meta.url));
  const { createCertStore } = await import(pathToFileURL(req.resolve('@weft/hbone')).href);
  const certs = JSON.parse(readFileSync(certsFile, 'utf8'));
  const { snapshot } = readSnapshot(snapshotFile);
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
if (mode === 'plain') await plain(args[0] ?? '');
else if (mode === 'mesh') await mesh(args[0] ?? '', args[1] ?? '', Number(args[2]));
else throw new Error(`waypoint-child: unknown mode ${JSON.stringify(mode)} (plain | mesh)`);
