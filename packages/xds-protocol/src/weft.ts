// The weft.v1 message types (generated), re-exported under one roof.
export type { Duration } from './gen/google/protobuf/duration.ts';
export * from './gen/weft/v1/authorization.ts';
export * from './gen/weft/v1/backend_policy.ts';
export * from './gen/weft/v1/common.ts';
export * from './gen/weft/v1/http_routes.ts';
export * from './gen/weft/v1/service.ts';
export * from './gen/weft/v1/waypoint.ts';
export * from './gen/weft/v1/workload.ts';
