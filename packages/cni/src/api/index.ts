export { type AgentTransport, httpAgentTransport, type PostResult } from './client.ts';
export * from './messages.ts';
