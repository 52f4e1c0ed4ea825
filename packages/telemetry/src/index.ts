// @weft/telemetry: Istio-compatible metrics, access logs, trace-context propagation and the
// package logger. Subpaths (./metrics, ./trace, ./log, ./access-log) import one layer only;
// ./trace, ./log and ./access-log have no dependencies and no node:* imports.
export * from './access-log/index.ts';
export * from './log/index.ts';
export * from './metrics/index.ts';
export * from './trace/index.ts';
