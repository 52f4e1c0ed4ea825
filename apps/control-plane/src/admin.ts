// The admin API on 15014 (fastify).
//
//   GET /healthz/ready        200 once the first compile succeeded and xDS listens, else 503
//   GET /metrics              Prometheus text
//   GET /debug/config_dump    the current MeshSnapshot as JSON
//   GET /debug/syncz          every connected proxy: id, kind, node, per type sent/acked/NACK
//   GET /debug/config_status  rejected objects with reasons, warnings, source errors and status
//
// /debug/* show the mesh's whole policy, so they take a bearer token (the same authenticators as
// the CA and xDS) of an identity in the admin namespace (weft-system by default) unless
// `debugAuth` is off. Health and metrics stay open, as scrapers and probes expect.
import type { AddressInfo } from 'node:net';
import type { Authenticator } from '@weft/ca/server';
import { bearerToken, chainAuthenticators } from '@weft/ca/server';
import type { MetricsRegistry } from '@weft/telemetry';
import fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';

export type AdminRejectReason =
  | 'admin_bad_request'
  | 'admin_unauthenticated'
  | 'admin_forbidden'
  | 'admin_not_found';

export interface AdminDeps {
  ready(): boolean;
  registry: MetricsRegistry;
  /** Called before /metrics renders (refresh gauges from live state). */
  beforeScrape?(): void;
  configDump(): unknown;
  syncz(): unknown;
  configStatus(): unknown;
  /** The MutatingWebhookConfiguration for the injection webhook (undefined when it is off). */
  injectionWebhookConfig?(): unknown;
  readonly authenticators: readonly Authenticator[];
  /** Require a token on /debug/* (default true). */
  readonly debugAuth: boolean;
  /** Namespaces whose service accounts may read /debug/* (default ['weft-system']). */
  readonly adminNamespaces: readonly string[];
  onRejected(reason: AdminRejectReason): void;
}

export interface AdminServer {
  readonly address: string;
  readonly port: number;
  readonly app: FastifyInstance;
  close(): Promise<void>;
}

export async function startAdmin(address: string, deps: AdminDeps): Promise<AdminServer> {
  const authenticator = chainAuthenticators(deps.authenticators);
  const app = fastify({
    logger: false,
    // A socket that does not speak HTTP gets a 400 and is closed; counted, never fatal.
    clientErrorHandler: (err, socket) => {
      deps.onRejected('admin_bad_request');
      if (socket.writable && (err as NodeJS.ErrnoException).code !== 'ECONNRESET') {
        socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      } else socket.destroy();
    },
    bodyLimit: 1024,
    connectionTimeout: 30_000,
    requestTimeout: 30_000,
  });

  const requireAdmin = async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (!deps.debugAuth) return;
    const header = req.headers.authorization;
    const token = bearerToken(header === undefined ? [] : [header]);
    if (!token.ok) {
      deps.onRejected('admin_unauthenticated');
      await reply.code(401).header('www-authenticate', 'Bearer').send({ error: token.error.message });
      return;
    }
    const caller = await authenticator.authenticate(token.value);
    if (!caller.ok) {
      deps.onRejected('admin_unauthenticated');
      const code = caller.error.code === 'unavailable' ? 503 : 401;
      await reply.code(code).send({ error: caller.error.message });
      return;
    }
    if (!deps.adminNamespaces.includes(caller.value.namespace)) {
      deps.onRejected('admin_forbidden');
      await reply.code(403).send({
        error: `${caller.value.namespace}/${caller.value.serviceAccount} may not read debug endpoints`,
      });
    }
  };

  app.setNotFoundHandler(async (_req, reply) => {
    deps.onRejected('admin_not_found');
    await reply.code(404).send({ error: 'not found' });
  });
  app.setErrorHandler(async (err: { statusCode?: number; message: string }, _req, reply) => {
    const status =
      err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status < 500) deps.onRejected('admin_bad_request');
    await reply.code(status).send({ error: status < 500 ? err.message : 'internal error' });
  });

  app.get('/healthz/ready', async (_req, reply) => {
    const ready = deps.ready();
    await reply
      .code(ready ? 200 : 503)
      .type('text/plain')
      .send(ready ? 'ok\n' : 'not ready\n');
  });
  app.get('/metrics', async (_req, reply) => {
    deps.beforeScrape?.();
    const body = await deps.registry.metrics();
    await reply.type(deps.registry.contentType).send(body);
  });
  app.get('/debug/config_dump', { preHandler: requireAdmin }, async () => deps.configDump());
  app.get('/debug/syncz', { preHandler: requireAdmin }, async () => deps.syncz());
  app.get('/debug/config_status', { preHandler: requireAdmin }, async () => deps.configStatus());
  app.get('/debug/injection_webhook_config', { preHandler: requireAdmin }, async (_req, reply) => {
    const cfg = deps.injectionWebhookConfig?.();
    if (cfg === undefined) return reply.code(404).send({ error: 'the injection webhook is off' });
    return cfg;
  });

  const sep = address.lastIndexOf(':');
  const host = address.slice(0, sep).replace(/^\[|\]$/g, '');
  await app.listen({ host, port: Number(address.slice(sep + 1)) });
  const bound = app.server.address() as AddressInfo;
  return {
    address: `${host.includes(':') ? `[${host}]` : host}:${bound.port}`,
    port: bound.port,
    app,
    close: () => app.close(),
  };
}
