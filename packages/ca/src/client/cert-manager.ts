// Keeps a workload certificate fresh for a proxy: new key + CSR, fetch, rotate at half-life
// (with jitter), retry with capped exponential backoff while the CA is away. The current
// certificate keeps being served until it expires.
import { createPublicKey, X509Certificate } from 'node:crypto';
import {
  Backoff,
  type Clock,
  type Scheduler,
  systemClock,
  systemScheduler,
  type TimerHandle,
} from '@weft/telemetry';
import { createCsr } from '../csr-create.ts';
import { generateRsaKeyPair, type KeyPairPem } from '../keys.ts';
import type { CertificateSource } from './client.ts';

export interface WorkloadCertificate {
  /** PKCS#8 PEM. */
  readonly keyPem: string;
  /** Leaf first, root last. */
  readonly certChainPem: readonly string[];
  /** Roots to verify peers with, concatenated PEM. */
  readonly trustBundlePem: string;
  readonly spiffeId: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

export interface CertManagerError {
  /** `fetch`: the CA refused or was unreachable; `response`: the CA's answer was unusable; `key`: key generation failed. */
  readonly kind: 'fetch' | 'response' | 'key';
  readonly message: string;
  /** gRPC status name for `fetch` errors. */
  readonly code?: string;
  /** Consecutive failures so far. */
  readonly attempt: number;
  readonly retryInMs: number;
}

export interface CertManagerEvents {
  /** A new certificate is current (also the first one). */
  rotated: WorkloadCertificate;
  /** A fetch failed; a retry is scheduled. */
  error: CertManagerError;
  /** The trust bundle changed (first time included). */
  'trust-bundle': string;
  /** The current certificate expired before a new one arrived; nothing is served now. */
  expired: WorkloadCertificate;
}

export interface CertManagerOptions {
  readonly source: CertificateSource;
  /** Request a certificate for this SPIFFE ID (node agents); default the caller's own identity. */
  readonly impersonatedIdentity?: string;
  /** 0 (default): the CA's default TTL. */
  readonly validitySeconds?: number;
  /** Fraction of the lifetime after which to rotate. Default 0.5. */
  readonly rotateAt?: number;
  /** Random spread around `rotateAt`, as a fraction of the lifetime (±). Default 0.05. */
  readonly jitter?: number;
  readonly backoff?: { readonly initialMs?: number; readonly maxMs?: number };
  readonly clock?: Clock;
  readonly scheduler?: Scheduler;
  /** Uniform [0, 1). */
  readonly random?: () => number;
  readonly generateKey?: () => Promise<KeyPairPem>;
}

export interface CertManager {
  /** Starts fetching (idempotent). */
  start(): void;
  /** The certificate to serve, undefined before the first one and after expiry. */
  current(): WorkloadCertificate | undefined;
  /** Resolves with the current certificate, or the next one; rejects when closed first. */
  ready(): Promise<WorkloadCertificate>;
  /** Subscribes; returns the unsubscribe function. */
  on<E extends keyof CertManagerEvents>(
    event: E,
    listener: (value: CertManagerEvents[E]) => void,
  ): () => void;
  /** When the next fetch is due (ms since epoch), for status pages. */
  nextFetchAt(): number | undefined;
  close(): void;
}

export function createCertManager(opts: CertManagerOptions): CertManager {
  const clock = opts.clock ?? systemClock;
  const scheduler = opts.scheduler ?? systemScheduler;
  const random = opts.random ?? Math.random;
  const rotateAt = opts.rotateAt ?? 0.5;
  const jitter = opts.jitter ?? 0.05;
  // ±20 % spread so a fleet does not retry in lockstep; never above the cap.
  const backoff = new Backoff(
    { initialMs: opts.backoff?.initialMs ?? 1000, maxMs: opts.backoff?.maxMs ?? 60_000, jitter: 0.2 },
    random,
  );
  const generateKey = opts.generateKey ?? (() => generateRsaKeyPair(2048));

  const listeners: { [E in keyof CertManagerEvents]: Set<(v: CertManagerEvents[E]) => void> } = {
    rotated: new Set(),
    error: new Set(),
    'trust-bundle': new Set(),
    expired: new Set(),
  };
  let cert: WorkloadCertificate | undefined;
  let trustBundlePem = '';
  let started = false;
  let closed = false;
  let inFlight = false;
  let fetchTimer: TimerHandle | undefined;
  let fetchAt: number | undefined;
  let expiryTimer: TimerHandle | undefined;
  const waiters: { resolve: (c: WorkloadCertificate) => void; reject: (e: Error) => void }[] = [];

  function emit<E extends keyof CertManagerEvents>(event: E, value: CertManagerEvents[E]): void {
    for (const l of [...listeners[event]]) {
      try {
        l(value);
      } catch {
        // A subscriber's failure must not stop rotation.
      }
    }
  }

  function scheduleFetch(delayMs: number): void {
    fetchTimer?.cancel();
    fetchAt = clock.now() + delayMs;
    fetchTimer = scheduler.schedule(delayMs, () => {
      fetchTimer = undefined;
      void fetch();
    });
  }

  function fail(error: Omit<CertManagerError, 'attempt' | 'retryInMs'>): void {
    const retryInMs = backoff.next();
    scheduleFetch(retryInMs);
    emit('error', { ...error, attempt: backoff.attempts, retryInMs });
  }

  function install(next: WorkloadCertificate, bundle: string): void {
    cert = next;
    backoff.reset();
    if (bundle !== trustBundlePem) {
      trustBundlePem = bundle;
      emit('trust-bundle', bundle);
    }
    const now = clock.now();
    const notBefore = next.notBefore.getTime();
    const lifetime = next.notAfter.getTime() - notBefore;
    const fraction = rotateAt + (random() * 2 - 1) * jitter;
    scheduleFetch(Math.max(0, notBefore + lifetime * fraction - now));
    expiryTimer?.cancel();
    expiryTimer = scheduler.schedule(Math.max(0, next.notAfter.getTime() - now), () => {
      if (cert === next) {
        cert = undefined;
        emit('expired', next);
      }
    });
    emit('rotated', next);
    for (const w of waiters.splice(0)) w.resolve(next);
  }

  async function fetch(): Promise<void> {
    if (closed || inFlight) return;
    inFlight = true;
    try {
      let key: KeyPairPem;
      try {
        key = await generateKey();
      } catch (err) {
        fail({ kind: 'key', message: (err as Error).message });
        return;
      }
      const r = await opts.source.createCertificate({
        csr: createCsr(key, opts.impersonatedIdentity ? { spiffeId: opts.impersonatedIdentity } : {}),
        validitySeconds: opts.validitySeconds ?? 0,
        ...(opts.impersonatedIdentity ? { impersonatedIdentity: opts.impersonatedIdentity } : {}),
      });
      if (closed) return;
      if (!r.ok) {
        fail({ kind: 'fetch', code: r.error.codeName, message: r.error.message });
        return;
      }
      const checked = checkResponse(key, r.value.certChain, r.value.trustBundle, clock.now());
      if (typeof checked === 'string') {
        fail({ kind: 'response', message: checked });
        return;
      }
      install(checked, r.value.trustBundle.join(''));
    } finally {
      inFlight = false;
    }
  }

  return {
    start() {
      if (started || closed) return;
      started = true;
      scheduleFetch(0);
    },
    current: () => cert,
    ready() {
      if (cert) return Promise.resolve(cert);
      if (closed) return Promise.reject(new Error('CertManager closed'));
      return new Promise((resolve, reject) => waiters.push({ resolve, reject }));
    },
    on(event, listener) {
      listeners[event].add(listener);
      return () => {
        listeners[event].delete(listener);
      };
    },
    nextFetchAt: () => (fetchTimer ? fetchAt : undefined),
    close() {
      closed = true;
      fetchTimer?.cancel();
      expiryTimer?.cancel();
      for (const w of waiters.splice(0)) w.reject(new Error('CertManager closed'));
    },
  };
}

/** Checks the CA's answer: a parsable chain whose leaf holds our key, currently valid, with a SPIFFE URI. */
function checkResponse(
  key: KeyPairPem,
  chain: readonly string[],
  bundle: readonly string[],
  now: number,
): WorkloadCertificate | string {
  if (chain.length === 0) return 'empty cert_chain';
  if (bundle.length === 0) return 'empty trust_bundle';
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(chain[0] as string);
  } catch (err) {
    return `leaf certificate does not parse: ${(err as Error).message}`;
  }
  const leafKey = leaf.publicKey.export({ type: 'spki', format: 'der' });
  if (!leafKey.equals(createPublicKey(key.publicKeyPem).export({ type: 'spki', format: 'der' }))) {
    return 'leaf certificate does not hold the requested key';
  }
  const notBefore = new Date(leaf.validFrom);
  const notAfter = new Date(leaf.validTo);
  if (notAfter.getTime() <= now) return `leaf certificate already expired (${leaf.validTo})`;
  const uri = /URI:(spiffe:\/\/[^,\s]+)/.exec(leaf.subjectAltName ?? '')?.[1];
  if (!uri) return 'leaf certificate has no SPIFFE URI SAN';
  return {
    keyPem: key.privateKeyPem,
    certChainPem: [...chain],
    trustBundlePem: bundle.join(''),
    spiffeId: uri,
    notBefore,
    notAfter,
  };
}
