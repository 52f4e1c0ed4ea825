// How the engine reaches an endpoint: a capability returning a connected byte stream. The
// waypoint uses HBONE (endpointIP:15008, :authority endpointIP:targetPort, its own identity);
// tests and the plaintext bench use plain TCP. The HTTP transports run on top of either.
import { connect } from 'node:net';
import type { Duplex } from 'node:stream';
import { type HboneClient, isHboneError } from '@weft/hbone';

export interface UpstreamEndpoint {
  readonly ip: string;
  /** The endpoint's target port. */
  readonly port: number;
  /** "ip:port". */
  readonly address: string;
  readonly workloadUid: string | undefined;
  /** SPIFFE id the endpoint must present (HBONE), when known. */
  readonly identity: string | undefined;
}

export interface ConnectContext {
  readonly signal: AbortSignal;
  /** Connect deadline. */
  readonly timeoutMs: number;
  /** Original client address, for HBONE `Forwarded: for=`. */
  readonly forwardedFor?: string | undefined;
}

/** Why a connect failed: refused/unreachable, too slow, or the peer's identity was wrong. */
export type ConnectFailure = 'refused' | 'timeout' | 'identity' | 'aborted' | 'other';

export class UpstreamConnectError extends Error {
  readonly kind: ConnectFailure;
  readonly endpoint: string;
  constructor(kind: ConnectFailure, endpoint: string, message: string) {
    super(`upstream ${endpoint}: ${message}`);
    this.kind = kind;
    this.endpoint = endpoint;
  }
}

export type UpstreamConnector = (endpoint: UpstreamEndpoint, ctx: ConnectContext) => Promise<Duplex>;

/** Plain TCP to endpointIP:targetPort (tests, benches, plaintext sidecar ports). */
export function createTcpUpstreamConnector(opts: { readonly localAddress?: string } = {}): UpstreamConnector {
  return (ep, ctx) =>
    new Promise<Duplex>((resolve, reject) => {
      if (ctx.signal.aborted) {
        reject(new UpstreamConnectError('aborted', ep.address, 'aborted'));
        return;
      }
      const socket = connect({
        host: ep.ip,
        port: ep.port,
        noDelay: true,
        ...(opts.localAddress !== undefined ? { localAddress: opts.localAddress } : {}),
      });
      // for the socket's whole life: the connect listener below goes once connected, and the
      // caller attaches its own only after the promise settles
      socket.on('error', () => {});
      const cleanup = () => {
        clearTimeout(timer);
        ctx.signal.removeEventListener('abort', onAbort);
        socket.off('error', onError);
      };
      const onAbort = () => {
        cleanup();
        socket.destroy();
        reject(new UpstreamConnectError('aborted', ep.address, 'aborted'));
      };
      const onError = (e: NodeJS.ErrnoException) => {
        cleanup();
        socket.destroy();
        reject(
          new UpstreamConnectError(e.code === 'ETIMEDOUT' ? 'timeout' : 'refused', ep.address, e.message),
        );
      };
      const timer = setTimeout(() => {
        cleanup();
        socket.destroy();
        reject(
          new UpstreamConnectError('timeout', ep.address, `connect timed out after ${ctx.timeoutMs} ms`),
        );
      }, ctx.timeoutMs);
      ctx.signal.addEventListener('abort', onAbort, { once: true });
      socket.once('error', onError);
      socket.once('connect', () => {
        cleanup();
        resolve(socket);
      });
    });
}

export interface HboneConnectorOptions {
  readonly client: HboneClient;
  /** Local identity whose certificate is presented (default: the client's default). */
  readonly sourceIdentity?: string;
  /** HBONE port on endpoints. Default 15008. */
  readonly hbonePort?: number;
}

/** HBONE to endpointIP:15008 with :authority endpointIP:targetPort, verifying the endpoint's identity. */
export function createHboneUpstreamConnector(opts: HboneConnectorOptions): UpstreamConnector {
  const hbonePort = opts.hbonePort ?? 15008;
  return async (ep, ctx) => {
    if (ep.identity === undefined)
      throw new UpstreamConnectError('identity', ep.address, 'endpoint has no known identity to verify');
    try {
      return await opts.client.connect({
        via: { ip: ep.ip, port: hbonePort },
        dest: { ip: ep.ip, port: ep.port },
        expectedIdentity: ep.identity,
        ...(opts.sourceIdentity !== undefined ? { sourceIdentity: opts.sourceIdentity } : {}),
        ...(ctx.forwardedFor !== undefined ? { forwardedFor: ctx.forwardedFor } : {}),
        signal: ctx.signal,
        timeoutMs: ctx.timeoutMs,
      });
    } catch (e) {
      if (isHboneError(e)) {
        const kind: ConnectFailure =
          e.kind === 'identity_mismatch'
            ? 'identity'
            : e.kind === 'timeout'
              ? 'timeout'
              : e.kind === 'aborted'
                ? 'aborted'
                : 'refused';
        throw new UpstreamConnectError(kind, ep.address, e.message);
      }
      throw new UpstreamConnectError('other', ep.address, e instanceof Error ? e.message : String(e));
    }
  };
}
