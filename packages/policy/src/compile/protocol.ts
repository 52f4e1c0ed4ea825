// Service port protocol: appProtocol first, then the Istio port-name convention
// ("http", "http-web", "grpc-api", ...), else plain TCP.
import type { AppProtocol } from '../snapshot.ts';

const BY_NAME: Readonly<Record<string, AppProtocol>> = {
  http: 'http',
  http2: 'http2',
  h2c: 'http2',
  'kubernetes.io/h2c': 'http2',
  'kubernetes.io/ws': 'http',
  'kubernetes.io/wss': 'https',
  grpc: 'grpc',
  'grpc-web': 'grpc-web',
  https: 'https',
  tls: 'tls',
  tcp: 'tcp',
  mongo: 'tcp',
  mysql: 'tcp',
  redis: 'tcp',
  udp: 'udp',
};

export function inferAppProtocol(port: {
  readonly name?: string | undefined;
  readonly protocol?: string | undefined;
  readonly appProtocol?: string | undefined;
}): AppProtocol {
  if (port.protocol === 'UDP') return 'udp';
  if (port.protocol === 'SCTP') return 'sctp';
  const app = port.appProtocol?.toLowerCase();
  if (app !== undefined && BY_NAME[app]) return BY_NAME[app];
  const name = port.name?.toLowerCase();
  if (name !== undefined) {
    if (name.startsWith('grpc-web')) return 'grpc-web';
    const prefix = name.split('-')[0] ?? '';
    const found = BY_NAME[prefix];
    if (found && found !== 'udp') return found;
  }
  return 'tcp';
}

/** Ports an HTTP or gRPC route may attach to (not encrypted, not datagram). */
export function isHttpCapable(protocol: AppProtocol): boolean {
  return protocol !== 'https' && protocol !== 'tls' && protocol !== 'udp' && protocol !== 'sctp';
}
