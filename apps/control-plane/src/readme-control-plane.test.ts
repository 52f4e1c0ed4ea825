// The README's createControlPlane example, as written there.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { noopLogger } from '@weft/telemetry';
import { expect, it } from 'vitest';
import { createControlPlane } from './index.ts';

it('README example', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'weftd-readme-'));
  const caDir = join(dir, '.ca');
  await writeFile(join(dir, 'ns.yaml'), 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: demo\n');

  const cp = await createControlPlane(
    {
      configDir: dir, // YAML manifests, watched
      tokens: 'ztunnel-node-a-token-000000001 weft-system ztunnel node-a\n', // or tokenFile
      caDir, // the root is created here once, then reused: restarts keep trust
      xdsAddress: '127.0.0.1:0', // plaintext xDS + CA (default 127.0.0.1:15010)
      xdsTlsAddress: false, // TLS xDS + CA (default 127.0.0.1:15012)
      adminAddress: '127.0.0.1:0', // default 127.0.0.1:15014
      injectionAddress: false, // sidecar-injection webhook (default 127.0.0.1:15017)
    },
    { logger: noopLogger },
  );
  await cp.whenReady(); // first snapshot compiled, xDS listening
  const res = await fetch(`http://${cp.addresses.admin}/healthz/ready`); // 200
  await cp.close();

  expect(res.status).toBe(200);
  expect(cp.snapshot()?.namespaces.demo).toBeDefined();
  await rm(dir, { recursive: true, force: true });
});
