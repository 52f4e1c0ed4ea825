export { type EchoReply, type EchoServer, type EchoServerOptions, startEchoServer } from './echo-server.ts';
export {
  callEcho,
  createGrpcEchoClient,
  ECHO_PROTO,
  ECHO_SERVICE,
  type EchoClient,
  type EchoMethod,
  type EchoRequest,
  type EchoTally,
  type GrpcEchoReply,
  type GrpcEchoServer,
  type GrpcEchoServerOptions,
  runEchoCalls,
  startGrpcEchoServer,
} from './grpc-echo.ts';
export {
  dial,
  type MeshRequestOptions,
  type MeshResponse,
  type MeshTarget,
  meshRequest,
} from './mesh-client.ts';
