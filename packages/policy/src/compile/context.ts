// Shared state of one compile run: options, the warning sink and name helpers.
import { type ValidationError, type ValidationErrorCode, validationError } from '../errors.ts';
import type { MeshObject } from '../schemas/registry.ts';

export interface CompileOptions {
  /** SPIFFE trust domain. Default "cluster.local". */
  readonly trustDomain?: string;
  /** Namespace whose selector-less policies apply mesh-wide. Default "weft-system". */
  readonly rootNamespace?: string;
  /** DNS suffix of service hostnames. Default "cluster.local". */
  readonly clusterDomain?: string;
  /** Namespace for namespaced objects that carry none (hand-written manifests). Default "default". */
  readonly defaultNamespace?: string;
}

export const DEFAULT_TRUST_DOMAIN = 'cluster.local';
export const DEFAULT_ROOT_NAMESPACE = 'weft-system';
export const DEFAULT_CLUSTER_DOMAIN = 'cluster.local';

/** Labels Weft reads. */
export const LABEL_DATAPLANE_MODE = 'weft.dev/dataplane-mode';
export const LABEL_USE_WAYPOINT = 'weft.dev/use-waypoint';
export const LABEL_USE_WAYPOINT_NAMESPACE = 'weft.dev/use-waypoint-namespace';
export const LABEL_WAYPOINT_FOR = 'weft.dev/waypoint-for';
export const LABEL_GATEWAY_NAME = 'gateway.networking.k8s.io/gateway-name';

export class CompileContext {
  readonly trustDomain: string;
  readonly rootNamespace: string;
  readonly clusterDomain: string;
  readonly warnings: ValidationError[] = [];

  constructor(options: CompileOptions) {
    this.trustDomain = options.trustDomain ?? DEFAULT_TRUST_DOMAIN;
    this.rootNamespace = options.rootNamespace ?? DEFAULT_ROOT_NAMESPACE;
    this.clusterDomain = options.clusterDomain ?? DEFAULT_CLUSTER_DOMAIN;
  }

  warn(code: ValidationErrorCode, object: MeshObject, path: string, message: string): void {
    this.warnings.push(
      validationError(
        code,
        {
          apiVersion: object.apiVersion,
          kind: object.kind,
          namespace: object.metadata.namespace,
          name: object.metadata.name,
        },
        [{ path, message }],
      ),
    );
  }

  serviceHostname(namespace: string, name: string): string {
    return `${name}.${namespace}.svc.${this.clusterDomain}`;
  }

  /** Istio host resolution: a bare name is a service of the given namespace; anything with a
   * dot is taken as written (a trailing ".svc" gets the cluster domain). */
  resolveHost(host: string, namespace: string): string {
    const h = host.toLowerCase();
    if (!h.includes('.')) return this.serviceHostname(namespace, h);
    if (h.endsWith('.svc')) return `${h}.${this.clusterDomain}`;
    return h;
  }
}

/** Namespace of a validated namespaced object (defaulted before compile). */
export function nsOf(object: MeshObject): string {
  return object.metadata.namespace ?? '';
}

export function keyOf(object: MeshObject): string {
  return `${nsOf(object)}/${object.metadata.name}`;
}

/** Older first (creationTimestamp), then by namespace/name: the Kubernetes tie-break. */
export function olderFirst(a: MeshObject, b: MeshObject): number {
  const ta = a.metadata.creationTimestamp ?? '\uffff';
  const tb = b.metadata.creationTimestamp ?? '\uffff';
  if (ta !== tb) return ta < tb ? -1 : 1;
  const ka = keyOf(a);
  const kb = keyOf(b);
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

export function byString(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Builds a record with keys inserted in sorted order (stable Object.keys for consumers). */
export function sortedRecord<T>(entries: Iterable<readonly [string, T]>): Record<string, T> {
  const list = [...entries].sort((a, b) => byString(a[0], b[0]));
  const out: Record<string, T> = {};
  for (const [k, v] of list) out[k] = v;
  return out;
}

/** `T` with members that may be undefined turned into optional members. */
export type Defined<T> = { [K in keyof T as undefined extends T[K] ? never : K]: T[K] } & {
  [K in keyof T as undefined extends T[K] ? K : never]?: Exclude<T[K], undefined>;
};

/** Drops undefined members (exactOptionalPropertyTypes wants them absent, not undefined). */
export function defined<T extends object>(o: T): Defined<T> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out as Defined<T>;
}
