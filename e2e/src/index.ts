export type { CallResult, HttpResult, MeshDriver, RequestOptions, StepLogger } from './driver.ts';
export { LocalDriver, type LocalDriverOptions, type LocalEndpoints, readPods } from './drivers/local.ts';
export {
  type PathOutcome,
  type RequestRecord,
  type RestartOptions,
  type RestartOutcome,
  restartUnderLoad,
  type StreamPath,
  steadyStream,
} from './load.ts';
export { ALL_SCENARIOS, type Scenario } from './scenarios/index.ts';
export {
  describeOutcome,
  L4_PATH,
  RESTART_CLIENT,
  RESTART_MANIFESTS,
  RESTART_SCENARIOS,
  RESTART_TARGETS,
  restartMeshOptions,
  WAYPOINT_PATH,
} from './scenarios/restart.ts';
export { eventually } from './wait.ts';
