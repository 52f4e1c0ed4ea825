import { X509Certificate } from 'node:crypto';
import { createManualClock, type ManualClock } from '@weft/telemetry/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CertificateAuthority, createCertificateAuthority } from '../authority.ts';
import { generateRsaKeyPair, type KeyPairPem } from '../keys.ts';
import { createCaServer } from '../server/server.ts';
import { createStaticTokenAuthenticator } from '../server/static-tokens.ts';
import { type CertManager, type CertManagerEvents, createCertManager } from './cert-manager.ts';
import { type CaCallResult, type CertificateSource, createCaClient } from './client.ts';

const HOUR = 3600_000;
const LIFETIME = 24 * HOUR + 5 * 60_000; // 24 h plus the 5-minute backdating

function next<E extends keyof CertManagerEvents>(m: CertManager, event: E): Promise<CertManagerEvents[E]> {
  return new Promise((resolve) => {
    const off = m.on(event, (v) => {
      off();
      resolve(v);
    });
  });
}

describe('CertManager (manual clock, in-memory CA)', () => {
  let clock: ManualClock;
  let ca: CertificateAuthority;
  let keys: KeyPairPem[];
  let down: boolean;
  let calls: number;
  let rewrite: ((r: CaCallResult) => CaCallResult) | undefined;
  let source: CertificateSource;

  beforeAll(async () => {
    keys = await Promise.all([generateRsaKeyPair(), generateRsaKeyPair()]);
  });

  async function setup(): Promise<CertManager> {
    clock = createManualClock();
    ca = await createCertificateAuthority({ clock });
    down = false;
    calls = 0;
    rewrite = undefined;
    source = {
      async createCertificate(req) {
        calls++;
        if (down)
          return { ok: false, error: { code: 14, codeName: 'UNAVAILABLE', message: 'connection refused' } };
        const r = await ca.issue({
          csrPem: req.csr,
          identity: { namespace: 'default', serviceAccount: 'web' },
          validitySeconds: req.validitySeconds ?? 0,
        });
        const result: CaCallResult = r.ok
          ? { ok: true, value: { certChain: r.value.certChainPem, trustBundle: ca.trustBundle } }
          : { ok: false, error: { code: 3, codeName: 'INVALID_ARGUMENT', message: r.error.message } };
        return rewrite ? rewrite(result) : result;
      },
    };
    let k = 0;
    return createCertManager({
      source,
      clock,
      scheduler: clock,
      random: () => 0.5, // no jitter, no backoff spread
      generateKey: async () => keys[k++ % keys.length] as KeyPairPem,
    });
  }

  it('fetches on start and rotates at half-life', async () => {
    const m = await setup();
    const bundle = next(m, 'trust-bundle');
    const first = next(m, 'rotated');
    m.start();
    clock.advance(0);
    const cert = await first;
    expect(await bundle).toBe(ca.trustBundlePem);
    expect(await m.ready()).toBe(cert);
    expect(cert.spiffeId).toBe('spiffe://cluster.local/ns/default/sa/web');
    expect(cert.notAfter.getTime() - cert.notBefore.getTime()).toBe(LIFETIME);
    // Half of the lifetime, counted from notBefore (5 minutes in the past).
    expect(m.nextFetchAt()).toBe(cert.notBefore.getTime() + LIFETIME / 2);

    const second = next(m, 'rotated');
    clock.advance(LIFETIME / 2 - 5 * 60_000);
    const rotated = await second;
    expect(m.current()).toBe(rotated);
    expect(rotated.certChainPem[0]).not.toBe(cert.certChainPem[0]);
    expect(calls).toBe(2);
    m.close();
  });

  it('rejects ready() when closed before the first certificate', async () => {
    const m = await setup();
    down = true;
    m.start();
    const ready = m.ready();
    m.close();
    await expect(ready).rejects.toThrow(/closed/);
    await expect(m.ready()).rejects.toThrow(/closed/);
  });

  it('spreads rotation with jitter', async () => {
    const m = await setup();
    const managers = [0, 1].map((r) =>
      createCertManager({
        source,
        clock,
        scheduler: clock,
        random: () => r,
        jitter: 0.1,
        generateKey: async () => keys[0] as KeyPairPem,
      }),
    );
    const done = managers.map((x) => next(x, 'rotated'));
    for (const x of managers) x.start();
    clock.advance(0);
    const certs = await Promise.all(done);
    const at = managers.map(
      (x, i) => ((x.nextFetchAt() ?? 0) - (certs[i]?.notBefore.getTime() ?? 0)) / LIFETIME,
    );
    expect(at[0]).toBeCloseTo(0.4, 6);
    expect(at[1]).toBeCloseTo(0.6, 6);
    for (const x of [m, ...managers]) x.close();
  });

  it('backs off while the CA is away, serves the old cert until it expires, then recovers', async () => {
    const m = await setup();
    const first = next(m, 'rotated');
    m.start();
    clock.advance(0);
    const cert = await first;

    down = true;
    const retries: number[] = [];
    m.on('error', (e) => retries.push(e.retryInMs));
    clock.advance((m.nextFetchAt() ?? 0) - clock.now());
    // Each failed attempt schedules the next: run them one at a time until 8 failures.
    for (let guard = 0; retries.length < 8 && guard < 100; guard++) {
      await new Promise((r) => setImmediate(r));
      clock.runNext();
    }
    expect(retries).toEqual([1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000]);
    expect(m.current()).toBe(cert);

    const expired = next(m, 'expired');
    clock.advance(cert.notAfter.getTime() - clock.now());
    expect(await expired).toBe(cert);
    expect(m.current()).toBeUndefined();

    // Let the attempt that was in flight at expiry fail and schedule its retry.
    await new Promise((r) => setImmediate(r));
    expect(m.nextFetchAt()).toBeDefined();
    down = false;
    const back = next(m, 'rotated');
    clock.runNext();
    const fresh = await back;
    expect(m.current()).toBe(fresh);
    expect(fresh.notAfter.getTime()).toBeGreaterThan(clock.now());
    m.close();
  });

  it('rejects an answer whose leaf does not hold its key', async () => {
    const m = await setup();
    const stranger = await generateRsaKeyPair();
    const { createCsr } = await import('../csr.ts');
    const foreign = await ca.issue({
      csrPem: createCsr(stranger),
      identity: { namespace: 'default', serviceAccount: 'web' },
    });
    rewrite = (r) =>
      r.ok && foreign.ok ? { ok: true, value: { ...r.value, certChain: foreign.value.certChainPem } } : r;
    const err = next(m, 'error');
    m.start();
    clock.advance(0);
    const e = await err;
    expect(e).toMatchObject({
      kind: 'response',
      message: 'leaf certificate does not hold the requested key',
      attempt: 1,
    });
    expect(m.current()).toBeUndefined();
    m.close();
  });

  it('announces a changed trust bundle', async () => {
    const m = await setup();
    const other = await createCertificateAuthority({ clock });
    const first = next(m, 'trust-bundle');
    m.start();
    clock.advance(0);
    await first;
    rewrite = (r) =>
      r.ok
        ? { ok: true, value: { ...r.value, trustBundle: [...r.value.trustBundle, other.rootCertPem] } }
        : r;
    const changed = next(m, 'trust-bundle');
    clock.advance(LIFETIME);
    expect(await changed).toBe(ca.rootCertPem + other.rootCertPem);
    m.close();
  });
});

describe('CertManager against a CA server over gRPC', () => {
  const token = 'tok-ztunnel-0123456789abcdef';
  let server: Awaited<ReturnType<typeof createCaServer>>;
  beforeAll(async () => {
    server = await createCaServer({
      authenticators: [await createStaticTokenAuthenticator({ text: `${token} weft-system ztunnel node-1` })],
      nodeWorkloads: (node, id) =>
        node === 'node-1' && id.namespace === 'shop' && id.serviceAccount === 'cart',
    });
  });
  afterAll(async () => {
    await server.close();
  });

  it('gets a certificate for a workload on its node (node-bound mode)', async () => {
    const client = createCaClient({ address: server.address, token: () => token });
    const m = createCertManager({
      source: client,
      impersonatedIdentity: 'spiffe://cluster.local/ns/shop/sa/cart',
    });
    m.start();
    const cert = await m.ready();
    m.close();
    client.close();
    expect(cert.spiffeId).toBe('spiffe://cluster.local/ns/shop/sa/cart');
    expect(
      new X509Certificate(cert.certChainPem[0] as string).checkPrivateKey(
        (await import('node:crypto')).createPrivateKey(cert.keyPem),
      ),
    ).toBe(true);
    expect(cert.trustBundlePem).toBe(server.ca.trustBundlePem);
  });
});
