export { canonicalJson, contentHash, fnv1a64 } from './hash.ts';
export { spiffeId } from './identity.ts';
export {
  type JsonSchemaTarget,
  jsonSchemas,
  MESH_KINDS,
  type MeshKind,
  type MeshObject,
  type ValidateResult,
  validateObject,
} from './schemas/registry.ts';
