// @weft/policy: the one policy model of Weft. Schemas and validation, compile to an immutable
// MeshSnapshot, and the pure evaluators every data plane uses. No I/O.

export { compile } from './compile/compile.ts';
export { CLUSTER_SCOPED_KINDS, deepFreeze, parseManifests } from './manifests/parse.ts';
export * from './runtime.ts';
export { WAYPOINT_GATEWAY_CLASS } from './schemas/gateway.ts';
export { isNamespacedKind, jsonSchemas, MESH_KINDS, validateObject } from './schemas/registry.ts';
export { CONDITION_KEYS } from './schemas/security.ts';
