// The shared scenarios on the netns driver: real network namespaces, Debian's CNI plugins with
// weft-cni chained after them, iptables interception, apps with no mesh awareness. Root only.
import { afterAll, beforeAll, describe, it } from 'vitest';
import { NetnsDriver, netnsSupport } from '../src/drivers/netns.ts';
import { runtimeFromEnv } from '../src/runtime.ts';
import { HYBRID_SCENARIOS } from '../src/scenarios/hybrid.ts';
import { ALL_SCENARIOS, TABLE_SCENARIOS } from '../src/scenarios/index.ts';
import { INTERCEPTION_SCENARIOS } from '../src/scenarios/interception.ts';
import { L4_SCENARIOS } from '../src/scenarios/l4.ts';
import { L7_SCENARIOS } from '../src/scenarios/l7.ts';

const support = await netnsSupport();
if (!support.ok) console.log(`netns tier skipped: ${support.reason}`);

const driver = new NetnsDriver({ runtime: runtimeFromEnv() });

describe.skipIf(!support.ok)('netns driver', () => {
  beforeAll(async () => {
    await driver.start();
  });
  afterAll(async () => {
    await driver.stop();
  });

  for (const scenario of [...ALL_SCENARIOS, ...TABLE_SCENARIOS, ...INTERCEPTION_SCENARIOS]) {
    it(`${scenario.name}: ${scenario.title}`, async () => {
      await scenario.run(driver, (line) => console.log(`[${scenario.name}] ${line}`));
    });
  }

  // Dual stack: the L4, L7 and hybrid scenarios again, with every app dialling IPv6 (service
  // VIPs and pod addresses), every proxy hop carrying it.
  it('switches the apps to IPv6', () => {
    driver.useFamily(6);
  });
  for (const scenario of [...L4_SCENARIOS, ...L7_SCENARIOS, ...HYBRID_SCENARIOS]) {
    it(`${scenario.name} over IPv6: ${scenario.title}`, async () => {
      await scenario.run(driver, (line) => console.log(`[${scenario.name} v6] ${line}`));
    });
  }
});
