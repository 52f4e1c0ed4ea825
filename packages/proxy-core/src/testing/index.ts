// Fixtures for tests of the proxies built on proxy-core: a small compiled local-mode mesh.

export {
  GRPC_ECHO_METHODS,
  type GrpcCallResult,
  type GrpcEchoCall,
  type GrpcEchoMethod,
  type GrpcEchoServer,
  grpcCall,
  meshChannelCredentials,
  startGrpcEcho,
} from './grpc.ts';
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
