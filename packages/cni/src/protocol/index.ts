// @weft/cni/protocol: the node agent <-> ztunnel protocol (types, codec, ztunnel's client).
// Kept free of heavy dependencies: ztunnel imports it.

export {
  type AgentMessageHandler,
  type Backoff,
  type ConnectNodeAgentOptions,
  connectNodeAgent,
  type NodeAgentClient,
  type ProtocolLogger,
} from './client.ts';
export { type LineEvent, LineSplitter } from './lines.ts';
export {
  type AckMessage,
  type AddMessage,
  type AgentMessage,
  DEFAULT_ZTUNNEL_SOCKET,
  type DecodeResult,
  decodeAgentMessage,
  decodeLine,
  decodeZtunnelMessage,
  encodeMessage,
  MAX_LINE_LENGTH,
  type PodRef,
  type ProtocolMessage,
  type RemoveMessage,
  type SnapshotDoneMessage,
  type ZtunnelMessage,
} from './messages.ts';
export { netnsPathError } from './netns.ts';
