// The CertificateService gRPC handler: authenticate the caller, decide which identity the
// certificate is for, then let the authority sign. Every rejection is a status with a message
// naming what was wrong, counted by reason in the CA's metrics.
import { type Metadata, type Server, type ServerUnaryCall, type sendUnaryData, status } from '@grpc/grpc-js';
import type { CertificateAuthority } from '../authority.ts';
import { type CaError, type CaErrorCode, fail, ok, type Result } from '../errors.ts';
import {
  CertificateServiceService,
  type CreateCertificateRequest,
  type CreateCertificateResponse,
} from '../gen/weft/ca/v1/ca.ts';
import { type CallerIdentity, clip, parseSpiffeId, type WorkloadIdentity } from '../identity.ts';
import { type Logger, silentLogger } from '../logger.ts';
import { type Authenticator, bearerToken, chainAuthenticators } from './authenticator.ts';

/** Says whether a workload with `identity` runs on `node` (node-bound mode; wired by the control plane). */
export type NodeWorkloadLookup = (node: string, identity: WorkloadIdentity) => boolean | Promise<boolean>;

export interface CertificateServiceOptions {
  readonly ca: CertificateAuthority;
  /** Tried in order; the first that accepts the token wins. */
  readonly authenticators: readonly Authenticator[];
  /** Enables node-bound mode: trusted node agents may request certificates for workloads on their node. */
  readonly nodeWorkloads?: NodeWorkloadLookup;
  /** Identities allowed to impersonate (with a node). Default `weft-system/ztunnel`. */
  readonly trustedNodeAgents?: readonly WorkloadIdentity[];
  readonly logger?: Logger;
}

export const DEFAULT_TRUSTED_NODE_AGENTS: readonly WorkloadIdentity[] = [
  { namespace: 'weft-system', serviceAccount: 'ztunnel' },
];

export interface CreateCertificateInput {
  readonly csr: string;
  readonly validitySeconds: number;
  readonly impersonatedIdentity?: string | undefined;
}

/** The transport-free core of the service, for hosts that are not gRPC (and for tests). */
export type CertificateRequestHandler = (
  authorization: readonly (string | Buffer)[],
  request: CreateCertificateInput,
) => Promise<Result<CreateCertificateResponse>>;

export function createCertificateRequestHandler(opts: CertificateServiceOptions): CertificateRequestHandler {
  const { ca } = opts;
  const authenticator = chainAuthenticators(opts.authenticators);
  const agents = opts.trustedNodeAgents ?? DEFAULT_TRUSTED_NODE_AGENTS;
  const logger = opts.logger ?? silentLogger;

  async function target(
    caller: CallerIdentity,
    impersonated: string | undefined,
  ): Promise<Result<WorkloadIdentity>> {
    if (impersonated === undefined || impersonated === '') return ok(caller);
    const parsed = parseSpiffeId(impersonated);
    if (!parsed.ok)
      return fail('invalid-argument', 'identity-invalid', `impersonated_identity: ${parsed.message}`);
    const id = parsed.value;
    if (id.trustDomain !== ca.trustDomain) {
      return fail(
        'permission-denied',
        'foreign-trust-domain',
        `impersonated_identity: trust domain ${id.trustDomain} is not ${ca.trustDomain}`,
      );
    }
    const self = id.namespace === caller.namespace && id.serviceAccount === caller.serviceAccount;
    if (self) return ok(caller);
    const who = `${caller.namespace}/${caller.serviceAccount}`;
    if (!opts.nodeWorkloads) {
      return fail(
        'permission-denied',
        'impersonation-denied',
        `impersonated_identity: node-bound mode is off (caller ${who})`,
      );
    }
    if (
      !caller.node ||
      !agents.some((a) => a.namespace === caller.namespace && a.serviceAccount === caller.serviceAccount)
    ) {
      return fail(
        'permission-denied',
        'impersonation-denied',
        `impersonated_identity: caller ${who} is not a trusted node agent with a node`,
      );
    }
    const identity = { namespace: id.namespace, serviceAccount: id.serviceAccount };
    if (!(await opts.nodeWorkloads(caller.node, identity))) {
      return fail(
        'permission-denied',
        'impersonation-denied',
        `impersonated_identity: no workload of ${id.namespace}/${id.serviceAccount} runs on node ${clip(caller.node)}`,
      );
    }
    return ok(identity);
  }

  // Rejections before `ca.issue` are counted here; `ca.issue` counts its own outcomes.
  function rejected<T>(r: { ok: false; error: CaError }): Result<T> {
    ca.metrics.recordRejected(r.error.reason);
    return r;
  }

  async function handle(
    authorization: readonly (string | Buffer)[],
    request: CreateCertificateInput,
  ): Promise<Result<CreateCertificateResponse>> {
    const token = bearerToken(authorization);
    if (!token.ok) return rejected(token);
    const caller = await authenticator.authenticate(token.value);
    if (!caller.ok) return rejected(caller);
    const identity = await target(caller.value, request.impersonatedIdentity);
    if (!identity.ok) return rejected(identity);
    const issued = await ca.issue({
      csrPem: request.csr,
      identity: identity.value,
      validitySeconds: request.validitySeconds,
    });
    if (!issued.ok) return issued;
    return ok({ certChain: [...issued.value.certChainPem], trustBundle: [...ca.trustBundle] });
  }

  return async (authorization, request) => {
    let result: Result<CreateCertificateResponse>;
    try {
      result = await handle(authorization, request);
    } catch (err) {
      logger.warn('certificate request failed', { error: (err as Error).message });
      result = rejected(fail('internal', 'internal', 'internal error'));
    }
    if (!result.ok) {
      logger.info('certificate request rejected', {
        reason: result.error.reason,
        message: result.error.message,
      });
    }
    return result;
  };
}

export function grpcStatus(code: CaErrorCode): status {
  switch (code) {
    case 'invalid-argument':
      return status.INVALID_ARGUMENT;
    case 'unauthenticated':
      return status.UNAUTHENTICATED;
    case 'permission-denied':
      return status.PERMISSION_DENIED;
    case 'unavailable':
      return status.UNAVAILABLE;
    case 'resource-exhausted':
      return status.RESOURCE_EXHAUSTED;
    case 'internal':
      return status.INTERNAL;
  }
}

/** Registers `weft.ca.v1.CertificateService` on a caller-provided server (e.g. next to xDS). */
export function addCertificateService(server: Server, opts: CertificateServiceOptions): void {
  const handler = createCertificateRequestHandler(opts);
  server.addService(CertificateServiceService, {
    createCertificate(
      call: ServerUnaryCall<CreateCertificateRequest, CreateCertificateResponse>,
      callback: sendUnaryData<CreateCertificateResponse>,
    ) {
      const metadata: Metadata = call.metadata;
      handler(metadata.get('authorization'), call.request).then(
        (result) => {
          if (result.ok) callback(null, result.value);
          else callback({ code: grpcStatus(result.error.code), details: result.error.message });
        },
        () => callback({ code: status.INTERNAL, details: 'internal error' }),
      );
    },
  });
}
