import { CLI_SCENARIOS } from './cli.ts';
import { DASHBOARD_SCENARIOS } from './dashboard.ts';
import { DIFFERENTIAL_SCENARIOS } from './differential.ts';
import { differentialGrpc } from './differential-grpc.ts';
import { HYBRID_SCENARIOS } from './hybrid.ts';
import { L4_SCENARIOS, type Scenario } from './l4.ts';
import { L7_SCENARIOS } from './l7.ts';
import { PROXYLESS_SCENARIOS } from './proxyless.ts';
import { RELIABILITY_SCENARIOS } from './reliability.ts';

export type { Scenario } from './l4.ts';
export const ALL_SCENARIOS: readonly Scenario[] = [
  ...L4_SCENARIOS,
  ...L7_SCENARIOS,
  ...HYBRID_SCENARIOS,
  ...PROXYLESS_SCENARIOS,
  ...RELIABILITY_SCENARIOS,
];

/**
 * Scenarios the e2e tiers run after ALL_SCENARIOS but the demo tour leaves out: long tables that
 * prove agreement rather than show a feature, and the CLI and dashboard driven against the mesh.
 */
export const TABLE_SCENARIOS: readonly Scenario[] = [
  ...DIFFERENTIAL_SCENARIOS,
  differentialGrpc,
  ...CLI_SCENARIOS,
  ...DASHBOARD_SCENARIOS,
];
