// The server interceptor: per call, the peer's identity from its verified client certificate,
// the method, metadata and local port, then `decideInbound`. A denied call ends before the
// handler sees it.
import * as grpc from '@grpc/grpc-js';
import { spiffeIdFromSubjectAltName } from '@weft/hbone';
import { normalizeIp } from '@weft/policy';
import { type Logger, silentLogger } from '../logger.ts';
import { decideInbound, type InboundCallDecision, type InboundCallFacts } from './decide.ts';
import type { PolicySource } from './policy-source.ts';

export interface AuthorizationInterceptorOptions {
  readonly policies: PolicySource;
  /** Trust domains a peer may come from; default any (the chain is verified against the mesh roots). */
  readonly trustDomains?: ReadonlySet<string>;
  readonly logger?: Logger;
  /** Observes every decision (metrics, tests); `facts` is absent when gathering them failed. */
  readonly onDecision?: (decision: InboundCallDecision, facts: InboundCallFacts | undefined) => void;
}

/** Metadata as headers: repeated keys stay arrays, binary values as base64 (as on the wire). */
export function metadataHeaders(metadata: grpc.Metadata): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [key, values] of Object.entries(metadata.toJSON())) {
    const text = values.map((v) => (typeof v === 'string' ? v : Buffer.from(v).toString('base64')));
    out[key] = text.length === 1 ? (text[0] as string) : text;
  }
  return out;
}

/** Who the peer is, from what TLS verified. */
export function peerIdentity(
  auth: ReturnType<grpc.ServerInterceptingCallInterface['getAuthContext']>,
  trustDomains?: ReadonlySet<string>,
): { principal?: string; error?: string } {
  const cert = auth.sslPeerCertificate;
  // grpc-js reports a certificate only when the handshake verified it against our roots.
  if (auth.transportSecurityType !== 'ssl' || cert === undefined) return {};
  const id = spiffeIdFromSubjectAltName(cert.subjectaltname, trustDomains);
  return id.ok ? { principal: id.value.id } : { error: id.error.message };
}

/**
 * Whether the peer presented a certificate that TLS did not verify. grpc-js's auth context shows
 * only verified certificates, so under PERMISSIVE (client certificate optional) a caller with a
 * foreign or expired certificate would look like one without any; Envoy refuses such a caller
 * at the handshake, and so must we. grpc-js exposes no socket to interceptors: this walks its
 * call chain (`nextCall` ... `stream.session.socket`, grpc-js 1.14) and answers undefined when
 * the shape is not there (the test suite pins it).
 */
export function presentedUnverifiedCertificate(call: unknown): boolean | undefined {
  let c: unknown = call;
  for (let depth = 0; depth < 16 && typeof c === 'object' && c !== null; depth++) {
    const stream = (c as { stream?: { session?: { socket?: unknown } } }).stream;
    if (stream !== undefined) {
      const socket = stream.session?.socket as
        | { authorized?: boolean; getPeerCertificate?: () => { raw?: Buffer } }
        | undefined;
      if (socket === undefined || typeof socket.getPeerCertificate !== 'function') return undefined;
      if (socket.authorized === true) return false;
      const cert = socket.getPeerCertificate();
      return cert?.raw !== undefined;
    }
    c = (c as { nextCall?: unknown }).nextCall;
  }
  return undefined;
}

export function callFacts(
  call: grpc.ServerInterceptingCallInterface,
  path: string,
  metadata: grpc.Metadata,
  trustDomains?: ReadonlySet<string>,
): InboundCallFacts {
  const auth = call.getAuthContext();
  const peer: { principal?: string; error?: string } =
    auth.transportSecurityType !== 'ssl' && presentedUnverifiedCertificate(call) === true
      ? { error: 'the client certificate does not chain to the mesh trust bundle or is expired' }
      : peerIdentity(auth, trustDomains);
  const conn = call.getConnectionInfo();
  const sourceIp = conn.remoteAddress === undefined ? undefined : normalizeIp(conn.remoteAddress);
  const destinationIp = conn.localAddress === undefined ? undefined : normalizeIp(conn.localAddress);
  return {
    ...(peer.principal !== undefined ? { peerPrincipal: peer.principal } : {}),
    ...(peer.error !== undefined ? { peerIdentityError: peer.error } : {}),
    ...(sourceIp !== undefined ? { sourceIp } : {}),
    ...(destinationIp !== undefined ? { destinationIp } : {}),
    ...(conn.localPort !== undefined ? { destinationPort: conn.localPort } : {}),
    host: call.getHost(),
    path,
    headers: metadataHeaders(metadata),
  };
}

export function authorizationInterceptor(opts: AuthorizationInterceptorOptions): grpc.ServerInterceptor {
  const logger = opts.logger ?? silentLogger;
  return (method, call) =>
    new grpc.ServerInterceptingCall(call, {
      start(next) {
        next({
          onReceiveMetadata(metadata, mdNext) {
            let facts: InboundCallFacts | undefined;
            let decision: InboundCallDecision;
            try {
              facts = callFacts(call, method.path, metadata, opts.trustDomains);
              decision = decideInbound(opts.policies.current(), facts);
            } catch (err) {
              // Fail closed: a call the SDK could not judge is not served.
              decision = {
                allow: false,
                code: grpc.status.INTERNAL,
                message: 'authorization failed',
                reason: err instanceof Error ? err.message : String(err),
              };
            }
            try {
              opts.onDecision?.(decision, facts);
            } catch {
              // An observer's failure must not change the call.
            }
            if (decision.allow) {
              mdNext(metadata);
              return;
            }
            logger.info('proxyless: call refused', {
              path: method.path,
              peer: facts?.peerPrincipal ?? '(no client certificate)',
              code: decision.code,
              reason: decision.reason,
              policy: decision.decision?.policy,
            });
            call.sendStatus({ code: decision.code, details: decision.message });
          },
        });
      },
    });
}
