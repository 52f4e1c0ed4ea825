// Fixtures for tests of the proxies built on proxy-core: a small compiled local-mode mesh.
export {
  compileOrThrow,
  LOCAL_MESH,
  type LocalMeshLayout,
  type LocalMeshOptions,
  localMeshLayout,
  localMeshObjects,
  NODE_A,
  NODE_B,
} from './mesh.ts';
