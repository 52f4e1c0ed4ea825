// The embedded CA: its root (loaded from --ca-dir, or created there in local mode so restarts keep
// trust), and weftd's own serving certificate for the TLS xDS port, re-issued at half-life.
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import {
  type CertificateAuthority,
  createCertificateAuthority,
  createCsr,
  generateRootCa,
  generateRsaKeyPair,
  type SignerPem,
} from '@weft/ca';
import type { Logger } from '@weft/telemetry';

export const ROOT_CERT_FILE = 'root-cert.pem';
export const ROOT_KEY_FILE = 'root-key.pem';

export type RootOrigin = 'given' | 'loaded' | 'created' | 'memory';

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Writes via a temporary file and rename, so a crash never leaves half a key. */
async function writeAtomic(path: string, text: string, mode: number): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, text, { mode });
  await chmod(tmp, mode);
  await rename(tmp, path);
}

/**
 * The CA root: `given` wins; else `dir/root-cert.pem` + `dir/root-key.pem` are loaded, or
 * generated and written there (key 0600, folder 0700); without a dir, a root lives in memory only.
 */
export async function loadOrCreateRoot(opts: {
  readonly given?: SignerPem | undefined;
  readonly dir?: string | undefined;
  readonly trustDomain: string;
  readonly logger: Logger;
}): Promise<{ signer: SignerPem; origin: RootOrigin }> {
  if (opts.given) return { signer: opts.given, origin: 'given' };
  if (opts.dir === undefined) {
    opts.logger.warn('no --ca-dir: the CA root lives in memory; certificates will not survive a restart');
    return { signer: await generateRootCa({ trustDomain: opts.trustDomain }), origin: 'memory' };
  }
  const certPath = join(opts.dir, ROOT_CERT_FILE);
  const keyPath = join(opts.dir, ROOT_KEY_FILE);
  const [certPem, keyPem] = await Promise.all([readIfExists(certPath), readIfExists(keyPath)]);
  if (certPem !== undefined && keyPem !== undefined) {
    opts.logger.info('CA root loaded', { dir: opts.dir });
    return { signer: { certPem, keyPem }, origin: 'loaded' };
  }
  if (certPem !== undefined || keyPem !== undefined) {
    throw new Error(
      `--ca-dir ${opts.dir}: found ${certPem !== undefined ? ROOT_CERT_FILE : ROOT_KEY_FILE} without ${certPem !== undefined ? ROOT_KEY_FILE : ROOT_CERT_FILE}; refusing to replace half a root`,
    );
  }
  await mkdir(opts.dir, { recursive: true, mode: 0o700 });
  const signer = await generateRootCa({ trustDomain: opts.trustDomain });
  await writeAtomic(keyPath, signer.keyPem, 0o600);
  await writeAtomic(certPath, signer.certPem, 0o644);
  opts.logger.info('CA root created', { dir: opts.dir });
  return { signer, origin: 'created' };
}

export async function createAuthority(signer: SignerPem, trustDomain: string): Promise<CertificateAuthority> {
  return createCertificateAuthority({ trustDomain, signer });
}

/** weftd's own identity on the TLS port. */
export const WEFTD_IDENTITY = { namespace: 'weft-system', serviceAccount: 'weftd' } as const;

/**
 * The names clients outside the mesh verify weftd's serving certificate by: the Kubernetes API
 * server calls the injection webhook as the `weftd` Service of `weft-system`.
 */
export const WEFTD_DNS_NAMES = ['weftd.weft-system.svc', 'weftd.weft-system.svc.cluster.local'] as const;

type IdentityListener = Parameters<
  grpc.experimental.CertificateProvider['addIdentityCertificateListener']
>[0];
type CaListener = Parameters<grpc.experimental.CertificateProvider['addCaCertificateListener']>[0];

/**
 * A grpc-js certificate provider holding weftd's serving certificate from the embedded CA, renewed
 * at half-life (the TLS port keeps listening; new handshakes get the new certificate).
 */
export class ServingCertificate implements grpc.experimental.CertificateProvider {
  private readonly ca: CertificateAuthority;
  private readonly logger: Logger;
  private identity: { certificate: Buffer; privateKey: Buffer } | null = null;
  private readonly identityListeners = new Set<IdentityListener>();
  private readonly caListeners = new Set<CaListener>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private closed = false;
  /** The PEM chain served (leaf first), for tests and the status page. */
  chainPem: readonly string[] = [];
  private keyPem = '';

  constructor(ca: CertificateAuthority, logger: Logger) {
    this.ca = ca;
    this.logger = logger;
  }

  async start(): Promise<void> {
    await this.renew();
  }

  close(): void {
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
  }

  private async renew(): Promise<void> {
    const keys = await generateRsaKeyPair(2048);
    const issued = await this.ca.issue({
      csrPem: createCsr(keys),
      identity: WEFTD_IDENTITY,
      dnsNames: WEFTD_DNS_NAMES,
    });
    if (!issued.ok) throw new Error(`serving certificate: ${issued.error.message}`);
    if (this.closed) return;
    this.chainPem = issued.value.certChainPem;
    this.keyPem = keys.privateKeyPem;
    this.identity = {
      certificate: Buffer.from(issued.value.certChainPem.join('')),
      privateKey: Buffer.from(keys.privateKeyPem),
    };
    for (const l of this.identityListeners) l(this.identity);
    const lifetime = issued.value.notAfter.getTime() - Date.now();
    this.timer = setTimeout(
      () => {
        this.renew().catch((err: unknown) => {
          this.logger.error('renewing the serving certificate failed; retrying in 1 min', {
            error: String(err),
          });
          if (!this.closed) this.timer = setTimeout(() => void this.renew().catch(() => {}), 60_000);
        });
      },
      Math.max(60_000, lifetime / 2),
    );
    this.timer.unref?.();
  }

  /** The current certificate chain and key as PEM (HTTPS servers: the injection webhook). */
  pem(): { certPem: string; keyPem: string } {
    return { certPem: this.chainPem.join(''), keyPem: this.keyPem };
  }

  addIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.add(listener);
    // grpc-js registers its own watcher only after this returns: deliver the current one later.
    queueMicrotask(() => {
      if (this.identityListeners.has(listener)) listener(this.identity);
    });
  }

  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.delete(listener);
  }

  addCaCertificateListener(listener: CaListener): void {
    this.caListeners.add(listener);
    queueMicrotask(() => {
      if (this.caListeners.has(listener)) listener({ caCertificate: Buffer.from(this.ca.trustBundlePem) });
    });
  }

  removeCaCertificateListener(listener: CaListener): void {
    this.caListeners.delete(listener);
  }

  credentials(): grpc.ServerCredentials {
    // The caller authenticates with a bearer token, not a client certificate.
    return grpc.experimental.createCertificateProviderServerCredentials(this, null, false);
  }
}
