// One certificate per local workload identity. A CertManager per identity asks the CA with the
// node-bound impersonation field (the CA checks that a workload of that identity runs on our
// node), rotates at half-life and retries while the CA is away; the current certificates are
// served to @weft/hbone through its CertSource capability. Nothing here can mint certificates.
import { X509Certificate } from 'node:crypto';
import {
  type CertificateSource,
  type CertManager,
  createCertManager,
  type WorkloadCertificate,
} from '@weft/ca/client';
import { type CertSource, type CertStore, createCertStore } from '@weft/hbone';
import type { Logger } from '@weft/telemetry';

export interface IdentityCertInfo {
  readonly identity: string;
  readonly state: 'pending' | 'ready' | 'expired';
  readonly serial?: string;
  readonly notBefore?: string;
  readonly notAfter?: string;
  /** Subject/issuer summary of each certificate, leaf first. */
  readonly chain?: readonly { readonly subject: string; readonly issuer: string; readonly serial: string }[];
  readonly nextFetchAt?: string;
  readonly lastError?: string;
}

export interface IdentityCertsOptions {
  readonly source: CertificateSource;
  /** Builds the manager of one identity; default createCertManager with impersonatedIdentity. */
  readonly createManager?: (identity: string, source: CertificateSource) => CertManager;
  readonly logger: Logger;
}

export interface IdentityCerts {
  /** The capability @weft/hbone's server and client read certificates from. */
  readonly certs: CertSource;
  /** Keeps exactly these identities' certificates (starts new managers, stops old ones). */
  reconcile(identities: Iterable<string>): void;
  /** Whether every wanted identity has a current certificate. */
  ready(): boolean;
  /** Resolves once `ready()` holds (or rejects when closed first). */
  whenReady(): Promise<void>;
  list(): IdentityCertInfo[];
  close(): void;
}

interface Entry {
  readonly manager: CertManager;
  readonly unsubscribe: (() => void)[];
  lastError: string | undefined;
  expired: boolean;
}

function describe(
  cert: WorkloadCertificate,
): Pick<IdentityCertInfo, 'serial' | 'notBefore' | 'notAfter' | 'chain'> {
  const chain = cert.certChainPem.map((pem) => {
    try {
      const x = new X509Certificate(pem);
      return { subject: x.subject || `URI:${cert.spiffeId}`, issuer: x.issuer, serial: x.serialNumber };
    } catch {
      return { subject: '(unparsable)', issuer: '', serial: '' };
    }
  });
  return {
    serial: chain[0]?.serial ?? '',
    notBefore: cert.notBefore.toISOString(),
    notAfter: cert.notAfter.toISOString(),
    chain,
  };
}

export function createIdentityCerts(options: IdentityCertsOptions): IdentityCerts {
  const store: CertStore = createCertStore();
  const entries = new Map<string, Entry>();
  let closed = false;
  let waiters: { resolve: () => void; reject: (e: Error) => void }[] = [];
  const make =
    options.createManager ??
    ((identity: string, source: CertificateSource) =>
      createCertManager({ source, impersonatedIdentity: identity }));

  const isReady = () => [...entries.values()].every((e) => e.manager.current() !== undefined);
  const wake = () => {
    if (!isReady()) return;
    const list = waiters;
    waiters = [];
    for (const w of list) w.resolve();
  };

  function start(identity: string): void {
    const manager = make(identity, options.source);
    const entry: Entry = { manager, unsubscribe: [], lastError: undefined, expired: false };
    entry.unsubscribe.push(
      manager.on('rotated', (cert) => {
        entry.lastError = undefined;
        entry.expired = false;
        store.set(cert, identity);
        options.logger.info('certificate installed', {
          identity,
          notAfter: cert.notAfter.toISOString(),
        });
        wake();
      }),
      manager.on('error', (e) => {
        entry.lastError = `${e.kind}${e.code ? ` ${e.code}` : ''}: ${e.message}`;
        options.logger.warn('certificate fetch failed', {
          identity,
          error: entry.lastError,
          attempt: e.attempt,
          retryInMs: e.retryInMs,
        });
      }),
      manager.on('expired', () => {
        entry.expired = true;
        store.delete(identity);
        options.logger.warn('certificate expired before a new one arrived', { identity });
      }),
    );
    entries.set(identity, entry);
    manager.start();
  }

  function stop(identity: string): void {
    const entry = entries.get(identity);
    if (entry === undefined) return;
    entries.delete(identity);
    for (const u of entry.unsubscribe) u();
    entry.manager.close();
    store.delete(identity);
  }

  return {
    certs: store,
    reconcile(identities) {
      if (closed) return;
      const want = new Set(identities);
      for (const id of [...entries.keys()]) if (!want.has(id)) stop(id);
      for (const id of want) if (!entries.has(id)) start(id);
      wake();
    },
    ready: isReady,
    whenReady() {
      if (closed) return Promise.reject(new Error('identity certificates closed'));
      if (isReady()) return Promise.resolve();
      return new Promise((resolve, reject) => waiters.push({ resolve, reject }));
    },
    list() {
      return [...entries.entries()]
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([identity, e]) => {
          const cert = e.manager.current();
          const next = e.manager.nextFetchAt();
          return {
            identity,
            state: cert !== undefined ? 'ready' : e.expired ? 'expired' : 'pending',
            ...(cert !== undefined ? describe(cert) : {}),
            ...(next !== undefined ? { nextFetchAt: new Date(next).toISOString() } : {}),
            ...(e.lastError !== undefined ? { lastError: e.lastError } : {}),
          };
        });
    },
    close() {
      if (closed) return;
      closed = true;
      for (const id of [...entries.keys()]) stop(id);
      for (const w of waiters.splice(0)) w.reject(new Error('identity certificates closed'));
    },
  };
}
