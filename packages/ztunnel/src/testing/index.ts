// Fixtures for tests of ztunnel and of the e2e scenarios that drive it.
export {
  compileOrThrow,
  LOCAL_MESH,
  type LocalMeshOptions,
  localMeshObjects,
  NODE_A,
  NODE_B,
} from './mesh.ts';
