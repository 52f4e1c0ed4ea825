// Fixtures for tests of ztunnel and of the e2e scenarios that drive it.

export {
  compileOrThrow,
  GRPC_ECHO_METHODS,
  type GrpcCallResult,
  type GrpcEchoCall,
  type GrpcEchoMethod,
  type GrpcEchoServer,
  grpcCall,
  LOCAL_MESH,
  type LocalMeshLayout,
  type LocalMeshOptions,
  localMeshLayout,
  localMeshObjects,
  meshChannelCredentials,
  NODE_A,
  NODE_B,
  startGrpcEcho,
} from '@weft/proxy-core/testing';
export { startTestCaServer, type TestCaServer } from './ca.ts';
export {
  type LocalMeshHarness,
  type LocalMeshHarnessOptions,
  type LocalNodeHandle,
  startLocalMesh,
} from './harness.ts';
export {
  createFakeInPodNet,
  type FakeInPodNet,
  type FakeInPodNetCall,
  type FakeInPodNetOptions,
} from './inpod-net.ts';
export {
  type EchoServer,
  httpGet,
  readUntilClose,
  roundTrip,
  type Socks5ConnectOptions,
  type Socks5ConnectResult,
  socks5Connect,
  startTcpEcho,
  tcpConnect,
} from './net.ts';
export { type FakeNodeAgent, startFakeNodeAgent } from './node-agent.ts';
