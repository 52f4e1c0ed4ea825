// The injection webhook of a real weftd: HTTPS with weftd's certificate, AdmissionReview v1 in and
// out, and garbage of every kind refused, counted, and survived.
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestControlPlane, type TestControlPlane } from '../testing/index.ts';
import { DATAPLANE_MODE_LABEL, inject, type JsonPatchOperation, SIDECAR_CONTAINER } from './inject.ts';
import { answerReview, MAX_REVIEW_BYTES } from './webhook.ts';

type Obj = Record<string, unknown>;

/** The container the second op (`/spec/initContainers`) adds. */
function firstInit(patch: readonly JsonPatchOperation[]): Obj {
  return (((patch[1]?.value ?? []) as Obj[])[0] ?? {}) as Obj;
}

const WEFTD_ID = 'URI:spiffe://cluster.local/ns/weft-system/sa/weftd';

function pod(labels: Obj = {}, extra: Obj = {}): Obj {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { generateName: 'web-', namespace: 'demo', labels },
    spec: { containers: [{ name: 'app', image: 'app:1' }], ...extra },
  };
}

function review(object: unknown, operation = 'CREATE', uid = '705ab4f5-6393-11e8-b7cc-42010a800002'): Obj {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      namespace: 'demo',
      operation,
      userInfo: { username: 'system:serviceaccount:kube-system:replicaset-controller' },
      object,
      dryRun: false,
    },
  };
}

interface Reply {
  readonly status: number;
  readonly json: Obj;
}

describe('injection webhook', () => {
  let t: TestControlPlane;
  let address: string;

  function post(body: string | Buffer, path = '/inject', method = 'POST'): Promise<Reply> {
    const [host, port] = address.split(':');
    return new Promise((resolve, reject) => {
      const req = httpsRequest(
        {
          host,
          port: Number(port),
          path,
          method,
          headers: { 'content-type': 'application/json' },
          ca: t.cp.trustBundlePem,
          // As the Kubernetes API server does: by the Service's DNS name (the certificate also
          // carries weftd's SPIFFE ID, which mesh clients check on the TLS xDS port).
          servername: 'weftd.weft-system.svc',
          checkServerIdentity: (_host: string, cert: PeerCertificate) => {
            if (!cert.subjectaltname?.includes(WEFTD_ID))
              return new Error(`unexpected ${cert.subjectaltname}`);
            return checkServerIdentity('weftd.weft-system.svc', cert);
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString();
            let json: Obj = {};
            try {
              json = JSON.parse(text) as Obj;
            } catch {}
            resolve({ status: res.statusCode ?? 0, json });
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  const send = (r: unknown) => post(JSON.stringify(r));

  async function metric(name: string, labels: Record<string, string>): Promise<number> {
    const text = await (await fetch(`http://${t.cp.addresses.admin}/metrics`)).text();
    for (const line of text.split('\n')) {
      if (!line.startsWith(`${name}{`)) continue;
      if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) {
        return Number(line.slice(line.lastIndexOf(' ') + 1));
      }
    }
    return 0;
  }
  const rejected = (reason: string) => metric('weft_rejected_total', { component: 'weftd', reason });

  beforeAll(async () => {
    t = await startTestControlPlane();
    address = t.cp.addresses.injection as string;
  });

  afterAll(async () => {
    await t?.close();
  });

  it('injects a new pod: uid echoed, base64 JSONPatch equal to inject()', async () => {
    const object = pod({ app: 'web' });
    const r = await send(review(object));
    expect(r.status).toBe(200);
    expect(r.json.apiVersion).toBe('admission.k8s.io/v1');
    expect(r.json.kind).toBe('AdmissionReview');
    const response = r.json.response as { uid: string; allowed: boolean; patchType: string; patch: string };
    expect(response.uid).toBe('705ab4f5-6393-11e8-b7cc-42010a800002');
    expect(response.allowed).toBe(true);
    expect(response.patchType).toBe('JSONPatch');
    const patch = JSON.parse(Buffer.from(response.patch, 'base64').toString()) as JsonPatchOperation[];
    const expected = inject(object);
    expect(expected.ok && expected.injected && expected.patch).toEqual(patch);
    expect(patch.map((p) => p.path)).toEqual([
      '/metadata/labels/weft.dev~1dataplane-mode',
      '/spec/initContainers',
      '/spec/volumes',
    ]);
    expect(firstInit(patch).name).toBe(SIDECAR_CONTAINER);
    expect(await metric('weft_weftd_injections_total', { result: 'injected' })).toBeGreaterThanOrEqual(1);
  });

  it.each([
    { name: 'a pod that opts out', r: review(pod({ 'weft.dev/inject': 'false' })) },
    { name: 'an ambient pod', r: review(pod({ [DATAPLANE_MODE_LABEL]: 'ambient' })) },
    {
      name: 'an injected pod',
      r: review(pod({}, { initContainers: [{ name: SIDECAR_CONTAINER, restartPolicy: 'Always' }] })),
    },
    { name: 'an UPDATE', r: review(pod(), 'UPDATE') },
    { name: 'a DELETE without object', r: review(undefined, 'DELETE') },
    { name: 'a kind it does not inject', r: review({ apiVersion: 'v1', kind: 'Service', spec: {} }) },
  ])('allows $name with no patch', async ({ r }) => {
    const reply = await send(r);
    expect(reply.status).toBe(200);
    expect(reply.json.response).toEqual({ uid: '705ab4f5-6393-11e8-b7cc-42010a800002', allowed: true });
  });

  it('injects a Deployment template', async () => {
    const deployment = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', namespace: 'demo' },
      spec: { template: { metadata: { labels: { app: 'web' } }, spec: pod().spec } },
    };
    const reply = await send(review(deployment));
    const response = reply.json.response as { patch: string };
    const patch = JSON.parse(Buffer.from(response.patch, 'base64').toString()) as JsonPatchOperation[];
    for (const op of patch) expect(op.path.startsWith('/spec/template/')).toBe(true);
  });

  it.each([
    { name: 'no containers', object: { kind: 'Pod', spec: {} }, why: 'spec.containers: missing or empty' },
    { name: 'no object', object: undefined, why: 'the object is not a JSON object' },
    { name: 'labels that are not strings', object: pod({ a: 1 }), why: 'metadata.labels.a: not a string' },
  ])('denies a CREATE of a malformed object ($name) with the reason', async ({ object, why }) => {
    const reply = await send(review(object, 'CREATE', 'uid-bad'));
    expect(reply.status).toBe(200);
    const response = reply.json.response as {
      uid: string;
      allowed: boolean;
      status: { code: number; message: string };
    };
    expect(response.uid).toBe('uid-bad');
    expect(response.allowed).toBe(false);
    expect(response.status.code).toBe(400);
    expect(response.status.message).toContain(why);
  });

  it.each([
    { name: 'not JSON', body: '{"apiVersion": ', status: 400 },
    { name: 'a JSON string', body: '"AdmissionReview"', status: 400, error: 'body is not a JSON object' },
    { name: 'JSON null', body: 'null', status: 400 },
    {
      name: 'apiVersion v1beta1',
      body: JSON.stringify({ ...review(pod()), apiVersion: 'admission.k8s.io/v1beta1' }),
      status: 400,
      error: 'apiVersion: expected admission.k8s.io/v1',
    },
    {
      name: 'another kind',
      body: JSON.stringify({ ...review(pod()), kind: 'TokenReview' }),
      status: 400,
      error: 'kind: expected AdmissionReview',
    },
    {
      name: 'no request',
      body: JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }),
      status: 400,
      error: 'request: missing',
    },
    {
      name: 'no uid',
      body: JSON.stringify({
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        request: { operation: 'CREATE' },
      }),
      status: 400,
      error: 'request.uid',
    },
    {
      name: 'a prototype-polluting body',
      body: '{"__proto__":{"allowed":true},"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}',
      status: 400,
    },
    { name: 'a body over the limit', body: Buffer.alloc(MAX_REVIEW_BYTES + 1024, 0x20), status: 413 },
  ])('answers $name with $status, counted', async ({ body, status, error }) => {
    const before = await rejected('injection_bad_request');
    const reply = await post(body);
    expect(reply.status).toBe(status);
    if (error !== undefined) expect(String(reply.json.error)).toContain(error);
    expect(await rejected('injection_bad_request')).toBeGreaterThan(before);
  });

  it('answers other paths and methods 404, counted', async () => {
    const before = await rejected('injection_not_found');
    expect((await post('{}', '/mutate')).status).toBe(404);
    expect((await post('', '/inject', 'GET')).status).toBe(404);
    expect(await rejected('injection_not_found')).toBe(before + 2);
  });

  it('drops plaintext HTTP and garbage bytes on the TLS port, counted, and keeps serving', async () => {
    const before = await rejected('injection_not_tls');
    const [host, port] = address.split(':');
    const payloads = [
      'POST /inject HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\n\r\n{}',
      '\x16\x03\x01\x00\x05hello',
    ];
    const closed: boolean[] = [];
    for (const bytes of payloads) {
      closed.push(
        await new Promise<boolean>((resolve) => {
          const s = connect(Number(port), host, () => s.write(bytes));
          s.on('data', () => {});
          s.on('error', () => resolve(true));
          s.on('close', () => resolve(true));
          s.setTimeout(1500, () => {
            s.destroy();
            resolve(false);
          });
        }),
      );
    }
    expect(closed[0]).toBe(true);
    // Bun's TLS server drops such sockets without telling the application: counted on Node only.
    if (!('Bun' in globalThis)) {
      expect(closed[1]).toBe(true);
      const deadline = Date.now() + 3000;
      while ((await rejected('injection_not_tls')) < before + 2 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(await rejected('injection_not_tls')).toBe(before + 2);
    }
    const reply = await send(review(pod()));
    expect((reply.json.response as { allowed: boolean }).allowed).toBe(true);
  }, 15_000);
});

describe('answerReview', () => {
  it('is pure: the same review gives the same answer', () => {
    const r = review(pod());
    expect(answerReview(r)).toEqual(answerReview(structuredClone(r)));
  });

  it('passes the sidecar options through', () => {
    const a = answerReview(review(pod()), { image: 'registry.local/sidecar:9' });
    if (a.status !== 200) throw new Error('not answered');
    const patch = JSON.parse(
      Buffer.from((a.body.response as { patch: string }).patch, 'base64').toString(),
    ) as JsonPatchOperation[];
    expect(firstInit(patch).image).toBe('registry.local/sidecar:9');
  });
});
