export type { CallResult, HttpResult, MeshDriver, RequestOptions, StepLogger } from './driver.ts';
export { LocalDriver, type LocalDriverOptions, type LocalEndpoints, readPods } from './drivers/local.ts';
export { ALL_SCENARIOS, type Scenario } from './scenarios/index.ts';
export { eventually } from './wait.ts';
