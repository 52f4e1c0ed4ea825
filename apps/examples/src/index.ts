export { type EchoReply, type EchoServer, type EchoServerOptions, startEchoServer } from './echo-server.ts';
export {
  dial,
  type MeshRequestOptions,
  type MeshResponse,
  type MeshTarget,
  meshRequest,
} from './mesh-client.ts';
