import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { createManualClock } from '@weft/telemetry/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCaClient } from '../client/client.ts';
import { createCsr } from '../csr.ts';
import { generateRsaKeyPair } from '../keys.ts';
import { type CaServer, createCaServer } from '../server/server.ts';
import { createTokenReviewAuthenticator, identityFromTokenReview, NODE_NAME_EXTRA } from './token-review.ts';

type Review = { spec?: { token?: string; audiences?: string[] } };

// Answers the real TokenReview REST endpoint the way an API server does.
function answer(review: Review): { code: number; body: unknown } {
  const token = review.spec?.token ?? '';
  const aud = review.spec?.audiences ?? [];
  const ok = (username: string, extra?: Record<string, string[]>) => ({
    code: 201,
    body: {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenReview',
      spec: review.spec,
      status: {
        authenticated: true,
        audiences: aud,
        user: { username, uid: 'u1', groups: [], ...(extra ? { extra } : {}) },
      },
    },
  });
  const no = (error: string) => ({
    code: 201,
    body: {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenReview',
      spec: review.spec,
      status: { authenticated: false, error },
    },
  });
  switch (token) {
    case 'jwt-web':
      return ok('system:serviceaccount:default:web');
    case 'jwt-ztunnel':
      return ok('system:serviceaccount:weft-system:ztunnel', { [NODE_NAME_EXTRA]: ['node-1'] });
    case 'jwt-expired':
      return no('[invalid bearer token, service account token has expired]');
    case 'jwt-user':
      return ok('alice');
    case 'jwt-500':
      return { code: 500, body: { kind: 'Status', status: 'Failure', message: 'etcd down', code: 500 } };
    default:
      return no('[invalid bearer token, token lookup failed]');
  }
}

describe('Kubernetes TokenReview authenticator', () => {
  let api: http.Server;
  let apiUrl: string;
  const seen: { auth: string | undefined; review: Review; path: string | undefined }[] = [];
  let server: CaServer;

  beforeAll(async () => {
    api = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d) => {
        body += d;
      });
      req.on('end', () => {
        const review = JSON.parse(body || '{}') as Review;
        seen.push({ auth: req.headers.authorization, review, path: req.url });
        const a =
          req.method === 'POST' && req.url?.startsWith('/apis/authentication.k8s.io/v1/tokenreviews')
            ? answer(review)
            : { code: 404, body: { kind: 'Status', code: 404 } };
        res.writeHead(a.code, { 'content-type': 'application/json' });
        res.end(JSON.stringify(a.body));
      });
    });
    api.listen(0, '127.0.0.1');
    await once(api, 'listening');
    apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
    server = await createCaServer({
      authenticators: [
        createTokenReviewAuthenticator({ audiences: ['weft-ca'], kubeConfig: kubeConfig(apiUrl) }),
      ],
      nodeWorkloads: (node, id) => node === 'node-1' && id.serviceAccount === 'db',
    });
  });
  afterAll(async () => {
    await server.close();
    api.close();
  });

  function kubeConfig(url: string): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'test', server: url, skipTLSVerify: true }],
      users: [{ name: 'weft-ca', token: 'ca-own-token' }],
      contexts: [{ name: 'test', cluster: 'test', user: 'weft-ca' }],
      currentContext: 'test',
    });
    return kc;
  }

  it('sends the token with the audiences and the CA’s own credentials', async () => {
    const auth = createTokenReviewAuthenticator({ audiences: ['weft-ca'], kubeConfig: kubeConfig(apiUrl) });
    const r = await auth.authenticate('jwt-web');
    expect(r).toEqual({ ok: true, value: { namespace: 'default', serviceAccount: 'web' } });
    const last = seen[seen.length - 1];
    expect(last?.path).toMatch(/^\/apis\/authentication\.k8s\.io\/v1\/tokenreviews/);
    expect(last?.auth).toBe('Bearer ca-own-token');
    expect(last?.review.spec).toEqual({ token: 'jwt-web', audiences: ['weft-ca'] });
  });

  it('reads the node from the token and caches accepted tokens', async () => {
    const clock = createManualClock();
    const auth = createTokenReviewAuthenticator({
      audiences: ['weft-ca'],
      kubeConfig: kubeConfig(apiUrl),
      clock,
    });
    const before = seen.length;
    for (let i = 0; i < 3; i++) {
      expect(await auth.authenticate('jwt-ztunnel')).toEqual({
        ok: true,
        value: { namespace: 'weft-system', serviceAccount: 'ztunnel', node: 'node-1' },
      });
    }
    expect(seen.length - before).toBe(1);
    clock.advance(31_000);
    await auth.authenticate('jwt-ztunnel');
    expect(seen.length - before).toBe(2);
  });

  it.each([
    ['jwt-expired', 'unauthenticated', /has expired/],
    ['jwt-foreign', 'unauthenticated', /token lookup failed/],
    ['jwt-user', 'unauthenticated', /"alice" is not a service account/],
    ['jwt-500', 'unavailable', /TokenReview call failed \(HTTP 500\)/],
  ])('%s -> %s', async (token, code, message) => {
    const auth = createTokenReviewAuthenticator({ audiences: ['weft-ca'], kubeConfig: kubeConfig(apiUrl) });
    const r = await auth.authenticate(token);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.code).toBe(code);
    expect(r.error.message).toMatch(message);
  });

  it('reports an unreachable API server as unavailable', async () => {
    const auth = createTokenReviewAuthenticator({
      audiences: ['weft-ca'],
      kubeConfig: kubeConfig('http://127.0.0.1:1'),
    });
    const r = await auth.authenticate('jwt-web');
    expect(r.ok ? '' : r.error.reason).toBe('authenticator-unavailable');
  });

  it.each([
    [
      'audience mismatch',
      { authenticated: true, audiences: ['other'], user: { username: 'system:serviceaccount:a:b' } },
      /audiences \[other\]/,
    ],
    [
      'no audiences returned',
      { authenticated: true, user: { username: 'system:serviceaccount:a:b' } },
      /audiences \[\]/,
    ],
    [
      'bad name',
      { authenticated: true, audiences: ['weft-ca'], user: { username: 'system:serviceaccount:a:B:c' } },
      /not valid/,
    ],
  ])('rejects %s', (_name, st, message) => {
    const r = identityFromTokenReview({ spec: {}, status: st }, ['weft-ca']);
    expect(r.ok ? '' : r.error.message).toMatch(message);
  });

  it('serves certificates to service-account callers over gRPC', async () => {
    const key = await generateRsaKeyPair();
    const csr = createCsr(key);
    const call = async (token: string, impersonatedIdentity?: string) => {
      const c = createCaClient({ address: server.address, token: () => token });
      const r = await c.createCertificate({ csr, ...(impersonatedIdentity ? { impersonatedIdentity } : {}) });
      c.close();
      return r;
    };
    expect((await call('jwt-web')).ok).toBe(true);
    expect((await call('jwt-ztunnel', 'spiffe://cluster.local/ns/default/sa/db')).ok).toBe(true);
    const expired = await call('jwt-expired');
    expect(expired.ok ? '' : expired.error.codeName).toBe('UNAUTHENTICATED');
    const down = await call('jwt-500');
    expect(down.ok ? '' : down.error.codeName).toBe('UNAVAILABLE');
    expect(server.metrics.rejected['bad-token']).toBe(1);
    expect(server.metrics.rejected['authenticator-unavailable']).toBe(1);
  });
});
