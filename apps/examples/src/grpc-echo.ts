// The gRPC echo workload and its client, built on @weft/proxyless-sdk: the server replies with
// its pod and version (so a weighted split is visible from the client) and the caller's
// identity; the client tallies replies and status codes.
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import type { ProxylessClient, ProxylessServer } from '@weft/proxyless-sdk';

/** The proto ships beside src/ and dist/ in the package. */
export const ECHO_PROTO = fileURLToPath(new URL('../proto/grpc_echo.proto', import.meta.url));
export const ECHO_SERVICE = 'weft.examples.v1.Echo';
export type EchoMethod = 'Echo' | 'Admin';

export interface EchoRequest {
  message: string;
}
export interface GrpcEchoReply {
  message: string;
  pod: string;
  version: string;
  peer: string;
}

export type EchoClient = grpc.Client & {
  [M in EchoMethod]: (
    req: EchoRequest,
    md: grpc.Metadata,
    opts: grpc.CallOptions,
    cb: (err: grpc.ServiceError | null, res?: GrpcEchoReply) => void,
  ) => grpc.ClientUnaryCall;
};

let loaded: { service: grpc.ServiceDefinition; Client: grpc.ServiceClientConstructor } | undefined;
export function echoDefinition(): { service: grpc.ServiceDefinition; Client: grpc.ServiceClientConstructor } {
  if (loaded === undefined) {
    const pkg = grpc.loadPackageDefinition(loadSync(ECHO_PROTO, { defaults: true }));
    const Client = (pkg.weft as grpc.GrpcObject).examples as grpc.GrpcObject;
    const ctor = (Client.v1 as grpc.GrpcObject).Echo as grpc.ServiceClientConstructor;
    loaded = { service: ctor.service, Client: ctor };
  }
  return loaded;
}

export interface GrpcEchoServerOptions {
  readonly proxyless: ProxylessServer;
  readonly port: number;
  /** Reported in replies. */
  readonly pod: string;
  readonly version: string;
  readonly listenTimeoutMs?: number;
}

export interface GrpcEchoServer {
  readonly port: number;
  readonly server: grpc.Server;
  close(): Promise<void>;
}

/** Starts the echo service on an xDS server with the SDK's authorization interceptor. */
export async function startGrpcEchoServer(opts: GrpcEchoServerOptions): Promise<GrpcEchoServer> {
  const server = opts.proxyless.createServer();
  const answer = (
    call: grpc.ServerUnaryCall<EchoRequest, GrpcEchoReply>,
    cb: grpc.sendUnaryData<GrpcEchoReply>,
  ): void => {
    const san = call.getAuthContext().sslPeerCertificate?.subjectaltname ?? '';
    const peer = /URI:(spiffe:\/\/[^,\s]+)/.exec(san)?.[1] ?? '';
    cb(null, { message: call.request.message, pod: opts.pod, version: opts.version, peer });
  };
  server.addService(echoDefinition().service, { Echo: answer, Admin: answer });
  const port = await opts.proxyless.listen(server, opts.port, {
    ...(opts.listenTimeoutMs !== undefined ? { timeoutMs: opts.listenTimeoutMs } : {}),
  });
  return {
    port,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => resolve());
        setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 2000).unref();
      }),
  };
}

/** A client of `xds:///<host>:<port>` with the SDK's credentials. */
export function createGrpcEchoClient(proxyless: ProxylessClient, host: string, port: number): EchoClient {
  const { Client } = echoDefinition();
  const client: unknown = new Client(
    proxyless.target(host, port),
    proxyless.channelCredentials,
    proxyless.channelOptions,
  );
  return client as EchoClient;
}

export function callEcho(
  client: EchoClient,
  method: EchoMethod,
  message: string,
  deadlineMs = 10_000,
): Promise<GrpcEchoReply> {
  return new Promise((resolve, reject) =>
    client[method]({ message }, new grpc.Metadata(), { deadline: Date.now() + deadlineMs }, (err, res) =>
      err || res === undefined ? reject(err) : resolve(res),
    ),
  );
}

export interface EchoTally {
  calls: number;
  ok: number;
  /** `<pod> <version>` -> replies. */
  served: Record<string, number>;
  /** gRPC status name -> count. */
  errors: Record<string, number>;
  lastError?: string;
}

const STATUS_NAMES = new Map<number, string>(
  Object.entries(grpc.status)
    .filter(([, v]) => typeof v === 'number')
    .map(([k, v]) => [v as number, k]),
);

/** Makes `calls` calls one after the other and counts who answered and which errors came back. */
export async function runEchoCalls(
  client: EchoClient,
  method: EchoMethod,
  calls: number,
  onResult?: (n: number, result: GrpcEchoReply | grpc.ServiceError) => void,
): Promise<EchoTally> {
  const tally: EchoTally = { calls, ok: 0, served: {}, errors: {} };
  for (let i = 0; i < calls; i++) {
    try {
      const r = await callEcho(client, method, `call ${i + 1}`);
      onResult?.(i + 1, r);
      tally.ok++;
      const key = `${r.pod} ${r.version}`;
      tally.served[key] = (tally.served[key] ?? 0) + 1;
    } catch (err) {
      const e = err as grpc.ServiceError;
      onResult?.(i + 1, e);
      const name = STATUS_NAMES.get(e.code) ?? String(e.code);
      tally.errors[name] = (tally.errors[name] ?? 0) + 1;
      tally.lastError = `${name}: ${e.details}`;
    }
  }
  return tally;
}
