// The README example, kept runnable: a capture listener in a pod namespace reads each redirected
// connection's original destination and dials it with the proxy's mark, which the namespace's
// RETURN rule lets past the REDIRECT. Needs root (skipped with one line saying why otherwise).
import type { Server } from 'node:net';
import { afterAll, expect, it } from 'vitest';
import {
  available,
  connectInNetns,
  createNetnsSocketFactory,
  listenInNetns,
  originalDstOf,
  unavailableReason,
} from './index.ts';
import {
  createNetns,
  deleteAllNetns,
  echoTagged,
  exchange,
  rootSkipReason,
  serveFd,
  skipLine,
  socketOnFd,
} from './test-support/netns.ts';

const rootWhy = rootSkipReason();
const skipped = skipLine(rootWhy);
if (skipped) console.log(skipped);

const servers: Server[] = [];
afterAll(() => {
  for (const s of servers) s.close();
  deleteAllNetns();
});

it.skipIf(rootWhy !== undefined)('README example', async () => {
  const ns = createNetns(['10.99.0.2']);
  ns.exec('iptables', [
    '-t',
    'nat',
    '-A',
    'OUTPUT',
    '-p',
    'tcp',
    '-m',
    'mark',
    '--mark',
    '0x539',
    '-j',
    'RETURN',
  ]);
  ns.exec('iptables', [
    '-t',
    'nat',
    '-A',
    'OUTPUT',
    '-p',
    'tcp',
    '--dport',
    '80',
    '-j',
    'REDIRECT',
    '--to-ports',
    '15001',
  ]);
  const appFd = listenInNetns(ns.path, { host: '10.99.0.2', port: 80 });
  if (!appFd.ok) throw new Error(appFd.message);
  servers.push((await serveFd(appFd.value, echoTagged('app'))).server);

  // --- README example starts ---
  if (!available()) throw new Error(`netns mode needs @weft/linux-net: ${unavailableReason()}`);
  // Sockets in the pod's namespace; the mark lets the proxy's own connections skip the REDIRECT.
  const pod = createNetnsSocketFactory(ns.path, { mark: 0x539 });
  const proxy = await pod.listen({ ip: '127.0.0.1', port: 15001 });
  proxy.on('connection', async (downstream) => {
    downstream.on('error', () => downstream.destroy());
    const dst = originalDstOf(downstream); // where the app meant to go, e.g. 10.99.0.2:80
    if (!dst.ok) {
      downstream.destroy();
      return;
    }
    try {
      const upstream = await pod.connect({ ip: dst.value.ip, port: dst.value.port }, { timeoutMs: 5000 });
      downstream.pipe(upstream).pipe(downstream);
    } catch {
      downstream.destroy(); // err.code: 'ECONNREFUSED', 'ETIMEDOUT', ...
    }
  });
  // --- README example ends ---
  servers.push(proxy);

  // an app in the pod connects to 10.99.0.2:80: captured, then relayed to the real app
  const seen: string[] = [];
  proxy.on('connection', (s) => seen.push(String(originalDstOf(s).ok)));
  const fd = await connectInNetns(ns.path, { host: '10.99.0.2', port: 80 });
  if (!fd.ok) throw new Error(fd.message);
  expect(await exchange(socketOnFd(fd.value), 'hello')).toBe('app:hello');
  expect(seen).toEqual(['true']);
});
