// The sidecar-injection webhook on 15017: a mutating admission webhook (AdmissionReview v1) over
// HTTPS with weftd's own certificate from the embedded CA.
//
//   POST /inject   AdmissionReview v1 -> AdmissionReview v1 with the request's uid echoed:
//                    CREATE of an injectable object -> allowed, `patchType: JSONPatch`, the
//                      patch base64-encoded (see inject.ts);
//                    opted out, already injected, another operation or kind -> allowed, no patch;
//                    an object inject() cannot read -> denied, the field named (HTTP 200: the
//                      review itself was fine, the object was not).
//                  A body that is not an AdmissionReview v1 with a request and a uid gets HTTP 400
//                  and an error; it is not a review the API server sent.
//
// Garbage never reaches an unhandled error: plaintext or a bad TLS handshake is dropped and
// counted, bodies over 4 MiB get 413, unknown paths 404, unparsable JSON 400.
import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import fastify, { type FastifyInstance } from 'fastify';
import { INJECTABLE_KINDS, type InjectOptions, inject } from './inject.ts';

export type InjectionRejectReason = 'injection_bad_request' | 'injection_not_tls' | 'injection_not_found';
export type InjectionOutcome = 'injected' | 'skipped' | 'denied';

/** The serving certificate (PEM chain, key); replaceable, e.g. when renewed. */
export interface WebhookTls {
  readonly certPem: string;
  readonly keyPem: string;
}

export interface InjectionWebhookDeps {
  readonly tls: WebhookTls;
  readonly inject?: InjectOptions;
  onRejected(reason: InjectionRejectReason): void;
  onReview?(outcome: InjectionOutcome): void;
  /** How long a TLS handshake may take (default 10 s). */
  readonly handshakeTimeoutMs?: number;
}

export interface InjectionWebhook {
  readonly address: string;
  readonly port: number;
  readonly app: FastifyInstance;
  /**
   * Serve a new certificate to new connections. False when the runtime cannot swap it on a
   * listening server (Bun's https server has no setSecureContext): the first one stays.
   */
  setTls(tls: WebhookTls): boolean;
  close(): Promise<void>;
}

export const MAX_REVIEW_BYTES = 4 * 1024 * 1024;
const ADMISSION_API_VERSION = 'admission.k8s.io/v1';

type Obj = Record<string, unknown>;
const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

export type ReviewAnswer =
  | { readonly status: 200; readonly body: Obj; readonly outcome: InjectionOutcome }
  | { readonly status: 400; readonly body: { readonly error: string } };

/** AdmissionReview in, AdmissionReview (or a 400 error) out. Pure. */
export function answerReview(review: unknown, options: InjectOptions = {}): ReviewAnswer {
  const bad = (error: string): ReviewAnswer => ({ status: 400, body: { error } });
  if (!isObject(review)) return bad('body is not a JSON object');
  if (review.apiVersion !== ADMISSION_API_VERSION) {
    return bad(
      `apiVersion: expected ${ADMISSION_API_VERSION}, got ${String(review.apiVersion).slice(0, 64)}`,
    );
  }
  if (review.kind !== 'AdmissionReview') {
    return bad(`kind: expected AdmissionReview, got ${String(review.kind).slice(0, 64)}`);
  }
  const request = review.request;
  if (!isObject(request)) return bad('request: missing or not an object');
  const uid = request.uid;
  if (typeof uid !== 'string' || uid === '' || uid.length > 256)
    return bad('request.uid: missing or not a string');
  const respond = (outcome: InjectionOutcome, response: Obj): ReviewAnswer => ({
    status: 200,
    outcome,
    body: { apiVersion: ADMISSION_API_VERSION, kind: 'AdmissionReview', response: { uid, ...response } },
  });
  if (request.operation !== 'CREATE') return respond('skipped', { allowed: true });
  // A kind the webhook was not meant for (a misconfigured rule) passes untouched.
  const kind = isObject(request.object) ? request.object.kind : undefined;
  if (typeof kind === 'string' && !INJECTABLE_KINDS.includes(kind))
    return respond('skipped', { allowed: true });
  const result = inject(request.object, options);
  if (!result.ok) {
    return respond('denied', {
      allowed: false,
      status: { code: 400, reason: 'BadRequest', message: `weft sidecar injection: ${result.error}` },
    });
  }
  if (!result.injected) return respond('skipped', { allowed: true });
  return respond('injected', {
    allowed: true,
    patchType: 'JSONPatch',
    patch: Buffer.from(JSON.stringify(result.patch)).toString('base64'),
  });
}

export async function startInjectionWebhook(
  address: string,
  deps: InjectionWebhookDeps,
): Promise<InjectionWebhook> {
  const app = fastify({
    logger: false,
    https: {
      cert: deps.tls.certPem,
      key: deps.tls.keyPem,
      minVersion: 'TLSv1.2',
      handshakeTimeout: deps.handshakeTimeoutMs ?? 10_000,
    },
    bodyLimit: MAX_REVIEW_BYTES,
    connectionTimeout: 30_000,
    requestTimeout: 30_000,
    // A TLS socket that then does not speak HTTP: 400 and close, counted.
    clientErrorHandler: (err, socket) => {
      deps.onRejected('injection_bad_request');
      if (socket.writable && (err as NodeJS.ErrnoException).code !== 'ECONNRESET') {
        socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      } else socket.destroy();
    },
  });
  const server = app.server as HttpsServer;
  // Plaintext, garbage or a failed handshake: drop and count (Node would drop it too, silently).
  server.on('tlsClientError', (_err, socket) => {
    deps.onRejected('injection_not_tls');
    socket.destroy();
  });

  app.setNotFoundHandler(async (_req, reply) => {
    deps.onRejected('injection_not_found');
    await reply.code(404).send({ error: 'not found' });
  });
  app.setErrorHandler(async (err: { statusCode?: number; message: string }, _req, reply) => {
    const status =
      err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    deps.onRejected('injection_bad_request');
    await reply.code(status).send({ error: status < 500 ? err.message : 'internal error' });
  });
  app.post('/inject', async (req, reply) => {
    const a = answerReview(req.body, deps.inject);
    if (a.status === 400) deps.onRejected('injection_bad_request');
    else deps.onReview?.(a.outcome);
    await reply.code(a.status).send(a.body);
  });

  const sep = address.lastIndexOf(':');
  const host = address.slice(0, sep).replace(/^\[|\]$/g, '');
  await app.listen({ host, port: Number(address.slice(sep + 1)) });
  const bound = server.address() as AddressInfo;
  return {
    address: `${host.includes(':') ? `[${host}]` : host}:${bound.port}`,
    port: bound.port,
    app,
    setTls(tls) {
      if (typeof server.setSecureContext !== 'function') return false;
      server.setSecureContext({ cert: tls.certPem, key: tls.keyPem, minVersion: 'TLSv1.2' });
      return true;
    },
    close: () => app.close(),
  };
}
