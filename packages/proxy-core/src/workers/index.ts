export {
  AGGREGATED_PATHS,
  type Aggregation,
  combineAnswers,
  type GatherAnswer,
  type RunWorkersOptions,
  runWorkers,
  shareEndpointAcrossWorkers,
  WORKER_SEMI_SPACE_MIB,
  type WorkerIdentity,
  workerExecArgv,
  workerIdentity,
} from './cluster.ts';
export { availableCores, type ConcurrencyResult, MAX_CONCURRENCY, parseConcurrency } from './concurrency.ts';
export { isLocalRequestSocket, type LocalResponse, localGet, parseResponse } from './local-request.ts';
export { type MergeResult, mergePrometheusTexts, splitSample } from './prometheus-merge.ts';
