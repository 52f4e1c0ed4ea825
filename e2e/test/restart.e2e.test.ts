// Restarts under load on the local (loopback) driver, on a mesh of its own (e2e/manifests/restart).
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { LocalDriver, REPO_ROOT } from '../src/drivers/local.ts';
import { runtimeFromEnv } from '../src/runtime.ts';
import { RESTART_SCENARIOS, restartMeshOptions } from '../src/scenarios/restart.ts';

const driver = new LocalDriver({
  ...restartMeshOptions(join(REPO_ROOT, '.weft', 'e2e-restart')),
  runtime: runtimeFromEnv(),
});

describe('local driver, restarts under load', () => {
  beforeAll(async () => {
    await driver.start();
  });
  afterAll(async () => {
    await driver.stop();
  });

  for (const scenario of RESTART_SCENARIOS) {
    it(`${scenario.name}: ${scenario.title}`, { timeout: 120_000 }, async () => {
      await scenario.run(driver, (line) => console.log(`[${scenario.name}] ${line}`));
    });
  }
});
