// The shared scenarios on the local (loopback) driver: real weftd, ztunnel and workload processes.
import { afterAll, beforeAll, describe, it } from 'vitest';
import { LocalDriver } from '../src/drivers/local.ts';
import { runtimeFromEnv } from '../src/runtime.ts';
import { ALL_SCENARIOS, TABLE_SCENARIOS } from '../src/scenarios/index.ts';

const driver = new LocalDriver({ runtime: runtimeFromEnv() });

describe('local driver', () => {
  beforeAll(async () => {
    await driver.start();
  });
  afterAll(async () => {
    await driver.stop();
  });

  for (const scenario of [...ALL_SCENARIOS, ...TABLE_SCENARIOS]) {
    it(`${scenario.name}: ${scenario.title}`, async () => {
      await scenario.run(driver, (line) => console.log(`[${scenario.name}] ${line}`));
    });
  }
});
