// Composition root of a standalone CA server (the control plane instead calls
// addCertificateService on its own gRPC server).
import { Server, ServerCredentials } from '@grpc/grpc-js';
import {
  type CertificateAuthority,
  type CertificateAuthorityOptions,
  createCertificateAuthority,
} from '../authority.ts';
import type { CaMetrics } from '../metrics.ts';
import { addCertificateService, type CertificateServiceOptions } from './service.ts';

/** gRPC messages larger than this are refused by the transport (a CSR is capped at 16 KiB anyway). */
export const DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024;

export interface CaServerOptions extends Omit<CertificateServiceOptions, 'ca'> {
  /** An authority, or options to create one. */
  readonly ca?: CertificateAuthority | CertificateAuthorityOptions;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Default 0 (any free port). */
  readonly port?: number;
  /** Default insecure (plaintext; local mode only). */
  readonly credentials?: ServerCredentials;
  readonly maxMessageBytes?: number;
}

export interface CaServer {
  readonly ca: CertificateAuthority;
  readonly metrics: CaMetrics;
  readonly port: number;
  /** `host:port`, ready for a client. */
  readonly address: string;
  close(): Promise<void>;
}

function isAuthority(
  x: CertificateAuthority | CertificateAuthorityOptions | undefined,
): x is CertificateAuthority {
  return typeof (x as CertificateAuthority | undefined)?.issue === 'function';
}

export async function createCaServer(opts: CaServerOptions): Promise<CaServer> {
  const ca = isAuthority(opts.ca) ? opts.ca : await createCertificateAuthority(opts.ca ?? {});
  const maxBytes = opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  const server = new Server({
    'grpc.max_receive_message_length': maxBytes,
    'grpc.max_send_message_length': 1024 * 1024,
  });
  addCertificateService(server, { ...opts, ca });
  const host = opts.host ?? '127.0.0.1';
  const bindHost = host.includes(':') ? `[${host}]` : host;
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(
      `${bindHost}:${opts.port ?? 0}`,
      opts.credentials ?? ServerCredentials.createInsecure(),
      (err, boundPort) => (err ? reject(err) : resolve(boundPort)),
    );
  });
  return {
    ca,
    metrics: ca.metrics,
    port,
    address: `${bindHost}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => resolve());
        // Calls in flight get a moment, then the rest are cut.
        setTimeout(() => server.forceShutdown(), 2000).unref();
      }),
  };
}
