// @weft/telemetry: Istio-compatible metrics, access logs, trace-context propagation and the
// package logger, and the time capabilities (Clock, Scheduler, backoff) every package shares.
// Subpaths (./metrics, ./trace, ./log, ./access-log) import one layer only; ./trace, ./log,
// ./access-log and the time module have no dependencies and no node:* imports.
export * from './access-log/index.ts';
export * from './log/index.ts';
export * from './metrics/index.ts';
export * from './time/index.ts';
export * from './trace/index.ts';
