// The README example, run as a test.
import { createServer } from 'node:http';
import { compile } from '@weft/policy';
import { authorizationPolicy, httpRoute, namespace, pod, service } from '@weft/policy/testing';
import { expect, it } from 'vitest';
import {
  applyUpdate,
  BUILTIN_FILTERS,
  batchFromSnapshot,
  createEngine,
  createFilterRegistry,
  DEFAULT_FILTER_CHAIN,
  type FilterDefinition,
  listenPlaintext,
} from './index.ts';

it('README example', async () => {
  // an application on the pod's address
  const app = createServer((req, res) => res.end(`hello from ${req.url}`));
  await new Promise<void>((r) => app.listen(0, '127.0.0.61', r));
  const appPort = (app.address() as { port: number }).port;

  // A filter: (next) => (req) => Promise<response>. `configure` validates once and returns the factory.
  const poweredBy: FilterDefinition = {
    name: 'powered-by',
    configure: (config) =>
      typeof config === 'string'
        ? {
            ok: true,
            value: () => (next) => async (req) => {
              const res = await next(req);
              res.headers['x-powered-by'] = config;
              return res;
            },
          }
        : { ok: false, error: { filter: 'powered-by', field: '', message: 'must be a string' } },
  };
  const engine = createEngine(
    {
      filters: [
        ...DEFAULT_FILTER_CHAIN.slice(0, -1),
        { name: 'powered-by', config: 'weft' },
        { name: 'router' },
      ],
    },
    { filterRegistry: createFilterRegistry([...BUILTIN_FILTERS, poweredBy]) },
  );

  // config: normally from weftd over xDS; here compiled in place
  const { snapshot } = compile([
    namespace('shop'),
    pod('web-1', {
      namespace: 'shop',
      ip: '127.0.0.61',
      labels: { app: 'web' },
      ports: [{ name: 'http', containerPort: appPort }],
    }),
    service('web', {
      namespace: 'shop',
      clusterIP: '10.96.0.10',
      ports: [{ name: 'http', port: 80, targetPort: 'http' }],
    }),
    httpRoute('web', {
      namespace: 'shop',
      service: 'web',
      rules: [
        {
          matches: [{ path: { type: 'PathPrefix', value: '/api' } }],
          backendRefs: [{ name: 'web', port: 80 }],
        },
      ],
    }),
    authorizationPolicy('no-admin', {
      namespace: 'shop',
      action: 'DENY',
      targetRefs: [{ kind: 'Service', name: 'web' }],
      rules: [{ to: [{ operation: { paths: ['/api/admin'] } }] }],
    }),
  ]);
  applyUpdate(engine.store, batchFromSnapshot(snapshot));

  // a plaintext HTTP/1.1 listener whose connections count as sent to the service VIP
  const listener = await listenPlaintext(engine, {
    protocol: 'http1',
    destination: { ip: '10.96.0.10', port: 80 },
  });
  const url = `http://127.0.0.1:${listener.address.port}`;

  const ok = await fetch(`${url}/api/items`);
  expect(ok.status).toBe(200);
  expect(await ok.text()).toBe('hello from /api/items');
  expect(ok.headers.get('x-powered-by')).toBe('weft');
  expect((await fetch(`${url}/api/x/../admin`)).status).toBe(403); // normalized, then denied
  expect((await fetch(`${url}/other`)).status).toBe(404); // a route table without a match

  await listener.close();
  engine.close();
  app.close();
});
