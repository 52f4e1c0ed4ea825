// Certificates reach HBONE through a narrow capability: whoever holds the keys (a cert manager,
// a node agent holding one certificate per local workload, a test CA) implements CertSource.
// This package never mints or fetches certificates.
import { X509Certificate } from 'node:crypto';
import { createSecureContext, type SecureContext } from 'node:tls';
import { parseSpiffeId, spiffeIdFromSubjectAltName } from './spiffe.ts';

/** What one side needs for mutual TLS. */
export interface CertMaterial {
  /** PKCS#8 (or PKCS#1) PEM private key. */
  readonly keyPem: string;
  /** Leaf first, then intermediates (the root may follow; it is harmless). */
  readonly certChainPem: readonly string[];
  /** Roots that peers' chains must lead to, concatenated PEM. */
  readonly trustBundlePem: string;
}

/**
 * The certificate capability. `current(identity)` returns the material to use now for that local
 * SPIFFE identity (or the default one when `identity` is undefined), or undefined when there is
 * none. It must return the same object while nothing changed: connections are pooled and TLS
 * contexts cached by that object, and a new object means "rotated".
 */
export interface CertSource {
  current(identity?: string): CertMaterial | undefined;
  /** Called after the material of `identity` (undefined: the default) changed. Returns unsubscribe. */
  onChange(listener: (identity: string | undefined) => void): () => void;
}

/** A CertSource the owner updates by hand: adapters from cert managers, tests. */
export interface CertStore extends CertSource {
  /** Sets (or rotates) the material of `identity`; undefined sets the default. */
  set(material: CertMaterial, identity?: string): void;
  delete(identity?: string): void;
}

export function createCertStore(initial?: CertMaterial): CertStore {
  const byIdentity = new Map<string | undefined, CertMaterial>();
  const listeners = new Set<(identity: string | undefined) => void>();
  if (initial !== undefined) byIdentity.set(undefined, initial);
  const notify = (identity: string | undefined) => {
    for (const l of [...listeners]) {
      try {
        l(identity);
      } catch {
        // One subscriber's failure must not stop the others.
      }
    }
  };
  return {
    current: (identity) => byIdentity.get(identity),
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    set(material, identity) {
      byIdentity.set(identity, material);
      notify(identity);
    },
    delete(identity) {
      if (byIdentity.delete(identity)) notify(identity);
    },
  };
}

/** TLS settings both sides share; HBONE is TLS 1.3 with ALPN h2 only. */
export const TLS_MIN_VERSION = 'TLSv1.3';
export const ALPN_H2 = ['h2'];

export function tlsOptionsOf(material: CertMaterial) {
  return {
    key: material.keyPem,
    cert: material.certChainPem.join('\n'),
    ca: material.trustBundlePem,
    minVersion: TLS_MIN_VERSION,
  } as const;
}

export interface CertInfo {
  /** The SPIFFE ID of our own leaf certificate, if it has exactly one valid one. */
  readonly spiffeId: string | undefined;
  readonly trustDomain: string | undefined;
}

const contexts = new WeakMap<CertMaterial, SecureContext>();
const infos = new WeakMap<CertMaterial, CertInfo>();

/** One SecureContext per material object: building one parses keys and certificates. */
export function secureContextOf(material: CertMaterial): SecureContext {
  let ctx = contexts.get(material);
  if (ctx === undefined) {
    ctx = createSecureContext(tlsOptionsOf(material));
    contexts.set(material, ctx);
  }
  return ctx;
}

/** Our own identity as written in our leaf certificate. */
export function certInfoOf(material: CertMaterial): CertInfo {
  let info = infos.get(material);
  if (info === undefined) {
    info = { spiffeId: undefined, trustDomain: undefined };
    const leaf = material.certChainPem[0];
    if (leaf !== undefined) {
      try {
        const id = spiffeIdFromSubjectAltName(new X509Certificate(leaf).subjectAltName);
        if (id.ok) info = { spiffeId: id.value.id, trustDomain: id.value.trustDomain };
      } catch {
        // An unparsable leaf leaves the info empty; TLS will refuse it anyway.
      }
    }
    infos.set(material, info);
  }
  return info;
}

export function trustDomainOf(spiffeId: string): string | undefined {
  return parseSpiffeId(spiffeId)?.trustDomain;
}
