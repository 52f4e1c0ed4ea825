// gRPC client of weft.ca.v1.CertificateService.
import { type ChannelCredentials, type ClientOptions, credentials, Metadata, status } from '@grpc/grpc-js';
import { CertificateServiceClient } from '../gen/weft/ca/v1/ca.ts';

export interface CertificateRequest {
  /** PEM CSR. */
  readonly csr: string;
  /** 0 or absent: the server default. */
  readonly validitySeconds?: number;
  /** SPIFFE ID to request for (node agents only). */
  readonly impersonatedIdentity?: string;
}

export interface CertificateResponse {
  /** Leaf first, root last. */
  readonly certChain: readonly string[];
  readonly trustBundle: readonly string[];
}

/** A failed call: the gRPC status code and the server's message. */
export interface CaCallError {
  readonly code: status;
  readonly codeName: string;
  readonly message: string;
}

export type CaCallResult =
  | { readonly ok: true; readonly value: CertificateResponse }
  | { readonly ok: false; readonly error: CaCallError };

/** The capability a certificate consumer needs (the CertManager takes this, not a CA handle). */
export interface CertificateSource {
  createCertificate(req: CertificateRequest): Promise<CaCallResult>;
}

export interface CaClientOptions {
  /** `host:port`. */
  readonly address: string;
  /** Default insecure (local mode). */
  readonly credentials?: ChannelCredentials;
  /** Bearer token for each call (e.g. re-read a projected service-account token file). */
  readonly token?: () => string | undefined | Promise<string | undefined>;
  /** Per-call deadline. Default 10 s. */
  readonly deadlineMs?: number;
  readonly channelOptions?: Partial<ClientOptions>;
}

export interface CaClient extends CertificateSource {
  close(): void;
}

const STATUS_NAMES = new Map<number, string>(
  Object.entries(status)
    .filter(([, v]) => typeof v === 'number')
    .map(([k, v]) => [v as number, k]),
);

export function createCaClient(opts: CaClientOptions): CaClient {
  const client = new CertificateServiceClient(
    opts.address,
    opts.credentials ?? credentials.createInsecure(),
    opts.channelOptions ?? {},
  );
  const deadlineMs = opts.deadlineMs ?? 10_000;
  return {
    async createCertificate(req) {
      const metadata = new Metadata();
      let token: string | undefined;
      try {
        token = await opts.token?.();
      } catch (err) {
        return {
          ok: false,
          error: {
            code: status.UNAUTHENTICATED,
            codeName: 'UNAUTHENTICATED',
            message: `token: ${(err as Error).message}`,
          },
        };
      }
      if (token) metadata.set('authorization', `Bearer ${token}`);
      return new Promise((resolve) => {
        client.createCertificate(
          {
            csr: req.csr,
            validitySeconds: req.validitySeconds ?? 0,
            impersonatedIdentity: req.impersonatedIdentity,
          },
          metadata,
          { deadline: Date.now() + deadlineMs },
          (err, response) => {
            if (err) {
              resolve({
                ok: false,
                error: {
                  code: err.code,
                  codeName: STATUS_NAMES.get(err.code) ?? String(err.code),
                  message: err.details,
                },
              });
            } else {
              resolve({
                ok: true,
                value: { certChain: response.certChain, trustBundle: response.trustBundle },
              });
            }
          },
        );
      });
    },
    close() {
      client.close();
    },
  };
}
