// Proxyless gRPC stand-ins for the proxies' tests: a grpc-js server and client holding mesh
// certificates, as a proxyless workload's own gRPC library does (mesh mTLS, ALPN h2, SPIFFE
// identities), or speaking h2c as an app behind a proxy does. One generic unary service, bytes in
// and out. Shared by ztunnel and the sidecar (the proxies never import each other).
import * as grpc from '@grpc/grpc-js';
import { type CertMaterial, spiffeIdFromSubjectAltName } from '@weft/hbone';

const identity = (b: Buffer) => b;

/** Unary methods of the test service `weft.test.Echo`. */
export const GRPC_ECHO_METHODS = {
  Say: '/weft.test.Echo/Say',
  Forbidden: '/weft.test.Echo/Forbidden',
} as const;

export type GrpcEchoMethod = keyof typeof GRPC_ECHO_METHODS;

const definition: grpc.ServiceDefinition = Object.fromEntries(
  Object.entries(GRPC_ECHO_METHODS).map(([name, path]) => [
    name,
    {
      path,
      requestStream: false,
      responseStream: false,
      requestSerialize: identity,
      requestDeserialize: identity,
      responseSerialize: identity,
      responseDeserialize: identity,
    },
  ]),
);

export interface GrpcEchoCall {
  readonly method: GrpcEchoMethod;
  /** The client's SPIFFE ID (mTLS), or undefined (plaintext). */
  readonly peerIdentity: string | undefined;
}

export interface GrpcEchoServer {
  readonly port: number;
  readonly calls: readonly GrpcEchoCall[];
  close(): Promise<void>;
}

/**
 * A gRPC echo server on `ip:port`: with `tls`, mesh mTLS requiring a client certificate (what a
 * proxyless server serves); without, h2c. Each call answers `<method> from <peer or plaintext>:
 * <request>`.
 */
export async function startGrpcEcho(options: {
  readonly ip: string;
  readonly port: number;
  readonly tls?: CertMaterial;
}): Promise<GrpcEchoServer> {
  const calls: GrpcEchoCall[] = [];
  const server = new grpc.Server();
  const handler =
    (method: GrpcEchoMethod): grpc.handleUnaryCall<Buffer, Buffer> =>
    (call, callback) => {
      const san = call.getAuthContext?.()?.sslPeerCertificate?.subjectaltname;
      const id = san === undefined ? undefined : spiffeIdFromSubjectAltName(san);
      const peerIdentity = id?.ok === true ? id.value.id : undefined;
      calls.push({ method, peerIdentity });
      callback(
        null,
        Buffer.from(`${method} from ${peerIdentity ?? 'plaintext'}: ${call.request.toString()}`),
      );
    };
  server.addService(definition, { Say: handler('Say'), Forbidden: handler('Forbidden') });
  const credentials =
    options.tls === undefined
      ? grpc.ServerCredentials.createInsecure()
      : grpc.ServerCredentials.createSsl(
          Buffer.from(options.tls.trustBundlePem),
          [
            {
              private_key: Buffer.from(options.tls.keyPem),
              cert_chain: Buffer.from(options.tls.certChainPem.join('\n')),
            },
          ],
          true,
        );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${options.ip}:${options.port}`, credentials, (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  return {
    port,
    calls,
    close: () =>
      new Promise<void>((resolve) => {
        server.forceShutdown();
        resolve();
      }),
  };
}

/** Client credentials of a proxyless workload: its certificate, the server's SPIFFE ID checked. */
export function meshChannelCredentials(
  material: CertMaterial | undefined,
  options: { readonly expectedServer: string; readonly trustBundlePem?: string },
): grpc.ChannelCredentials {
  const bundle = options.trustBundlePem ?? material?.trustBundlePem;
  if (bundle === undefined) throw new Error('meshChannelCredentials: no trust bundle');
  return grpc.credentials.createSsl(
    Buffer.from(bundle),
    material === undefined ? null : Buffer.from(material.keyPem),
    material === undefined ? null : Buffer.from(material.certChainPem.join('\n')),
    {
      checkServerIdentity: (_host, cert) => {
        const id = spiffeIdFromSubjectAltName(cert.subjectaltname);
        if (id.ok && id.value.id === options.expectedServer) return undefined;
        return new Error(
          `server is ${id.ok ? id.value.id : id.error.message}, expected ${options.expectedServer}`,
        );
      },
    },
  );
}

export type GrpcCallResult =
  | { readonly ok: true; readonly reply: string }
  | { readonly ok: false; readonly code: number; readonly details: string };

/** One unary call to `target` (`ip:port`); the channel is closed afterwards. */
export function grpcCall(options: {
  readonly target: string;
  readonly credentials?: grpc.ChannelCredentials;
  readonly method?: GrpcEchoMethod;
  readonly message?: string;
  readonly deadlineMs?: number;
  /**
   * SNI and authority for TLS (a proxyless client sends its target's host name). Default
   * `weft.test` when `credentials` are given: an IP address is no valid SNI (Bun refuses it).
   */
  readonly serverName?: string;
}): Promise<GrpcCallResult> {
  const serverName = options.serverName ?? (options.credentials !== undefined ? 'weft.test' : undefined);
  const client = new grpc.Client(options.target, options.credentials ?? grpc.credentials.createInsecure(), {
    // one attempt: a refused connection is the answer, not something to wait out
    'grpc.enable_retries': 0,
    'grpc.initial_reconnect_backoff_ms': 100,
    ...(serverName !== undefined ? { 'grpc.ssl_target_name_override': serverName } : {}),
  });
  return new Promise<GrpcCallResult>((resolve) => {
    client.makeUnaryRequest(
      GRPC_ECHO_METHODS[options.method ?? 'Say'],
      identity,
      identity,
      Buffer.from(options.message ?? 'hello'),
      new grpc.Metadata(),
      { deadline: Date.now() + (options.deadlineMs ?? 5000) },
      (err, value) => {
        client.close();
        if (err !== null) resolve({ ok: false, code: err.code, details: err.details });
        else resolve({ ok: true, reply: (value as Buffer).toString() });
      },
    );
  });
}
