// The in-process xDS relay: grpc-js-xds only speaks plaintext ADS without credentials, so its
// bootstrap points at 127.0.0.1:<port> here, and each ADS stream it opens is forwarded to weftd
// with the pod's bearer token (and TLS when configured). Messages pass byte for byte in both
// directions: the relay never decodes xDS, so a resource it cannot parse cannot hurt it.
import * as grpc from '@grpc/grpc-js';
import { DELTA_METHOD_PATH, SOTW_METHOD_PATH } from '@weft/xds-protocol';
import { type Logger, silentLogger } from '../logger.ts';
import type { TokenProvider } from '../token.ts';
import { type GuardFinding, guardResponse, newGuardState } from './guard.ts';

export interface XdsRelayOptions {
  /** weftd's xDS address, `host:port`. */
  readonly upstream: string;
  /** Default insecure (local mode, port 15010). */
  readonly credentials?: grpc.ChannelCredentials;
  /** Extra options of the upstream channel (e.g. `grpc.ssl_target_name_override`). */
  readonly channelOptions?: grpc.ChannelOptions;
  readonly token: TokenProvider;
  /** Largest message passed in either direction. Default 16 MiB. */
  readonly maxMessageBytes?: number;
  /** Default `127.0.0.1:0`. */
  readonly listen?: string;
  readonly logger?: Logger;
  /** Called for every resource the crash guard rewrote. */
  readonly onGuard?: (finding: GuardFinding) => void;
}

export interface XdsRelayStats {
  readonly streams: number;
  readonly activeStreams: number;
  readonly messagesUp: number;
  readonly messagesDown: number;
  readonly upstreamErrors: number;
  /** Resources rewritten so grpc-js-xds NACKs instead of crashing (see guard.ts). */
  readonly guarded: number;
}

export interface XdsRelay {
  /** `127.0.0.1:<port>`, what the bootstrap's `server_uri` names. */
  readonly address: string;
  stats(): XdsRelayStats;
  close(): Promise<void>;
}

const identity = (b: Buffer): Buffer => b;
const method = (path: string): grpc.MethodDefinition<Buffer, Buffer> => ({
  path,
  requestStream: true,
  responseStream: true,
  requestSerialize: identity,
  requestDeserialize: identity,
  responseSerialize: identity,
  responseDeserialize: identity,
});

export async function startXdsRelay(opts: XdsRelayOptions): Promise<XdsRelay> {
  const logger = opts.logger ?? silentLogger;
  const maxBytes = opts.maxMessageBytes ?? 16 * 1024 * 1024;
  const sizes = {
    'grpc.max_receive_message_length': maxBytes,
    'grpc.max_send_message_length': maxBytes,
  };
  const upstream = new grpc.Client(opts.upstream, opts.credentials ?? grpc.credentials.createInsecure(), {
    ...sizes,
    'grpc.keepalive_time_ms': 30_000,
    ...opts.channelOptions,
  });
  const open = new Map<
    grpc.ServerDuplexStream<Buffer, Buffer>,
    (s: { code: grpc.status; details: string }) => void
  >();
  let streams = 0;
  let messagesUp = 0;
  let messagesDown = 0;
  let upstreamErrors = 0;
  let guarded = 0;
  const guardState = newGuardState();
  let closing = false;

  const forward =
    (path: string) =>
    (down: grpc.ServerDuplexStream<Buffer, Buffer>): void => {
      streams++;
      let finished = false;
      let up: grpc.ClientDuplexStream<Buffer, Buffer> | undefined;
      const finish = (status: { code: grpc.status; details: string }): void => {
        if (finished) return;
        finished = true;
        open.delete(down);
        if (status.code === grpc.status.OK) down.end();
        else down.emit('error', status);
      };
      open.set(down, (s) => {
        up?.cancel();
        finish(s);
      });
      // Listeners first: a peer may reset the stream before the token is read.
      down.on('error', () => {
        up?.cancel();
        finish({ code: grpc.status.CANCELLED, details: 'downstream error' });
      });
      down.on('cancelled', () => {
        up?.cancel();
        finish({ code: grpc.status.CANCELLED, details: 'cancelled by the client' });
      });
      down.pause();
      opts
        .token()
        .then((token) => {
          if (finished || closing) return;
          const md = new grpc.Metadata();
          md.set('authorization', `Bearer ${token}`);
          const call = upstream.makeBidiStreamRequest(path, identity, identity, md, {});
          up = call;
          call.on('data', (raw: Buffer) => {
            messagesDown++;
            let b = raw;
            if (path === SOTW_METHOD_PATH) {
              const g = guardResponse(raw, guardState);
              if (g.findings.length > 0) {
                b = Buffer.from(g.bytes);
                for (const f of g.findings) {
                  guarded++;
                  logger.warn('xds relay: resource rewritten so grpc-js-xds rejects it', { ...f });
                  opts.onGuard?.(f);
                }
              }
            }
            if (!down.write(b)) {
              call.pause();
              down.once('drain', () => call.resume());
            }
          });
          call.on('error', (err: grpc.ServiceError) => {
            upstreamErrors++;
            logger.warn('xds relay: upstream stream ended', { code: err.code, details: err.details });
            finish({ code: err.code, details: `weftd: ${err.details}` });
          });
          call.on('status', (s: grpc.StatusObject) => {
            if (s.code === grpc.status.OK) finish({ code: grpc.status.OK, details: '' });
          });
          down.on('data', (b: Buffer) => {
            messagesUp++;
            if (!call.write(b)) {
              down.pause();
              call.once('drain', () => down.resume());
            }
          });
          down.on('end', () => call.end());
          down.resume();
        })
        .catch((err: unknown) => {
          upstreamErrors++;
          const details = `token: ${err instanceof Error ? err.message : String(err)}`;
          logger.warn('xds relay: no token for the upstream stream', { details });
          finish({ code: grpc.status.UNAVAILABLE, details });
        });
    };

  const server = new grpc.Server(sizes);
  server.addService(
    {
      StreamAggregatedResources: method(SOTW_METHOD_PATH),
      DeltaAggregatedResources: method(DELTA_METHOD_PATH),
    },
    {
      StreamAggregatedResources: forward(SOTW_METHOD_PATH),
      DeltaAggregatedResources: forward(DELTA_METHOD_PATH),
    },
  );
  const listen = opts.listen ?? '127.0.0.1:0';
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(listen, grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  const host = listen.slice(0, listen.lastIndexOf(':'));
  return {
    address: `${host}:${port}`,
    stats: () => ({ streams, activeStreams: open.size, messagesUp, messagesDown, upstreamErrors, guarded }),
    async close() {
      closing = true;
      for (const end of [...open.values()]) end({ code: grpc.status.UNAVAILABLE, details: 'relay closing' });
      upstream.close();
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 1000);
        server.tryShutdown(() => {
          clearTimeout(t);
          resolve();
        });
      });
    },
  };
}
