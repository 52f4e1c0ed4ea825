export {
  AGGREGATED_PATHS,
  type Aggregation,
  combineAnswers,
  type GatherAnswer,
  type RunWorkersOptions,
  runWorkers,
  shareEndpointAcrossWorkers,
  type WorkerIdentity,
  workerIdentity,
} from './cluster.ts';
export { availableCores, type ConcurrencyResult, MAX_CONCURRENCY, parseConcurrency } from './concurrency.ts';
export { isLocalRequestSocket, type LocalResponse, localGet, parseResponse } from './local-request.ts';
export { type MergeResult, mergePrometheusTexts, splitSample } from './prometheus-merge.ts';
