#!/usr/bin/env node
// pnpm --filter @weft/proxyless-sdk run test:pack
//
// Installs the SDK the way a user does, outside this workspace: builds and packs
// @weft/proxyless-sdk and every workspace package it depends on (`pnpm pack` turns workspace:
// and catalog: ranges into versions), creates a plain npm project in a temporary directory,
// installs the tarballs with `npm install` (@weft/* from the local tarballs only, through
// `overrides`; third-party packages from the registry), and runs a program there that imports
// the SDK and its ./testing fakes, sets up a proxyless server and calls it over mesh mTLS,
// on Node and, when `bun` is on PATH, on Bun. Kept out of `pnpm test`: it takes a minute or two.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const sdkDir = resolve(here, '..');
const root = resolve(sdkDir, '../..');
const keep = process.argv.includes('--keep');
const say = (line) => process.stdout.write(`${line}\n`);

const run = (cmd, args, cwd, env = {}) => {
  say(`$ (${cwd}) ${cmd} ${args.join(' ')}`);
  return execFileSync(cmd, args, {
    cwd,
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ...env },
  }).toString();
};

// The workspace packages the SDK needs, transitively.
const dirs = new Map(
  readdirSync(join(root, 'packages')).flatMap((d) => {
    try {
      const pkg = JSON.parse(readFileSync(join(root, 'packages', d, 'package.json'), 'utf8'));
      return [[pkg.name, join(root, 'packages', d)]];
    } catch {
      return [];
    }
  }),
);
const needed = new Set();
const visit = (name) => {
  if (needed.has(name)) return;
  needed.add(name);
  const pkg = JSON.parse(readFileSync(join(dirs.get(name), 'package.json'), 'utf8'));
  for (const [dep, range] of Object.entries(pkg.dependencies ?? {})) {
    if (String(range).startsWith('workspace:')) visit(dep);
  }
};
visit('@weft/proxyless-sdk');

// The program a user would write (plus the fake weftd the SDK ships for tests).
const MAIN = `
import { createServer } from 'node:net';
const step = (what) => process.stderr.write('pack-test step: ' + what + '\\n');
setTimeout(() => { step('gave up after 90 s'); process.exit(3); }, 90_000).unref();
import * as grpc from '@grpc/grpc-js';
import { createProxylessServer } from '@weft/proxyless-sdk';
import { proxylessMtlsCluster, proxylessServerListener, startFakeWeftd } from '@weft/proxyless-sdk/testing';
import { envoyResource, proxylessListener, proxylessLoadAssignment, proxylessRouteConfiguration } from '@weft/xds-protocol/envoy';

const port = await new Promise((res) => { const s = createServer(); s.listen(0, () => { const p = s.address().port; s.close(() => res(p)); }); });
step('free port ' + port);
const weftd = await startFakeWeftd({ workloads: [{ token: 'echo-token-0123456789', namespace: 'demo', serviceAccount: 'echo' }] });
const host = 'echo.demo.svc.cluster.local', name = host + ':' + port, cluster = 'outbound|' + port + '||' + host;
weftd.cache.apply([
  envoyResource('listener', proxylessServerListener(port)),
  envoyResource('listener', proxylessListener(name, { routeConfigName: name })),
  envoyResource('routeConfiguration', proxylessRouteConfiguration(name, [host, name], [{ clusters: [{ name: cluster, weight: 1 }] }])),
  envoyResource('cluster', proxylessMtlsCluster(cluster, ['spiffe://cluster.local/ns/demo/sa/echo'])),
  envoyResource('clusterLoadAssignment', proxylessLoadAssignment(cluster, [{ address: '127.0.0.1', port }])),
]);
step('fake weftd at ' + weftd.address);
const mesh = await createProxylessServer({ pod: 'demo/echo-v1', serviceAccount: 'echo', xdsAddress: weftd.address, token: 'echo-token-0123456789', policies: [] });
const id = (b) => b;
const def = { Echo: { path: '/t.Echo/Echo', requestStream: false, responseStream: false, requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id } };
const server = mesh.createServer();
server.addService(def, { Echo: (call, cb) => cb(null, Buffer.from(call.getAuthContext().sslPeerCertificate?.subjectaltname ?? '-')) });
step('proxyless server set up; listening');
await mesh.listen(server, port);
step('serving; calling ' + mesh.target(host, port));
const client = new grpc.Client(mesh.target(host, port), mesh.channelCredentials, mesh.channelOptions);
const reply = await new Promise((res, rej) => client.makeUnaryRequest('/t.Echo/Echo', id, id, Buffer.from('x'), (e, r) => (e ? rej(e) : res(String(r)))));
if (reply !== 'URI:spiffe://cluster.local/ns/demo/sa/echo') throw new Error('unexpected reply ' + reply);
client.close();
server.forceShutdown();
await mesh.close();
await weftd.close();
console.log('pack-test: ok', reply);
process.exit(0);
`;

// Runs the user program; on failure prints what it wrote, last, so the cause ends the log.
// One retry, reported, so a one-off stall on a loaded machine is told apart from a real break.
const program = (cmd, cwd) => {
  for (let attempt = 1; attempt <= 2; attempt++) {
    say(`$ (${cwd}) ${cmd} main.mjs   [attempt ${attempt}]`);
    const r = spawnSync(cmd, ['main.mjs'], { cwd, encoding: 'utf8', timeout: 120_000 });
    const out = `${r.stdout ?? ''}`;
    if (r.status === 0 && out.includes('pack-test: ok')) {
      process.stdout.write(out);
      if (attempt > 1) say(`${cmd}: passed on attempt ${attempt} (attempt 1 failed, output above)`);
      return;
    }
    say(`${cmd} main.mjs failed (exit ${r.status ?? r.signal ?? r.error?.code}); it printed:`);
    process.stdout.write(`${out}${r.stderr ?? ''}\n`);
  }
  throw new Error(`${cmd}: the packed SDK program failed twice (its output is above)`);
};

const work = mkdtempSync(join(tmpdir(), 'weft-proxyless-pack-'));
const tarballs = join(work, 'tarballs');
const app = join(work, 'app');
mkdirSync(tarballs);
mkdirSync(app);
try {
  run('pnpm', ['--filter', '@weft/proxyless-sdk...', 'run', 'build'], root);
  const files = {};
  for (const name of needed) {
    const before = new Set(readdirSync(tarballs));
    run('pnpm', ['pack', '--pack-destination', tarballs], dirs.get(name));
    const added = readdirSync(tarballs).filter((f) => !before.has(f));
    files[name] = `file:${join(tarballs, added[0])}`;
  }
  const grpcJs = JSON.parse(
    readFileSync(join(sdkDir, 'node_modules/@grpc/grpc-js/package.json'), 'utf8'),
  ).version;
  writeFileSync(
    join(app, 'package.json'),
    `${JSON.stringify(
      {
        name: 'proxyless-pack-test',
        private: true,
        type: 'module',
        dependencies: { ...files, '@grpc/grpc-js': grpcJs },
        overrides: files,
      },
      null,
      2,
    )}\n`,
  );
  writeFileSync(join(app, 'main.mjs'), MAIN);
  run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], app);
  program('node', app);
  let bun = false;
  try {
    execFileSync('bun', ['--version'], { stdio: 'ignore' });
    bun = true;
  } catch {
    say('bun not found: skipping the Bun run');
  }
  if (bun) {
    program('bun', app);
  }
  say(`pack-test: passed (${[...needed].join(', ')})`);
} catch (err) {
  process.exitCode = 1;
  say(`pack-test: FAILED: ${err.message}`);
} finally {
  if (keep) say(`kept ${work}`);
  else rmSync(work, { recursive: true, force: true });
}
