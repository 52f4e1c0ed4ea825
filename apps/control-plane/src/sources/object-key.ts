import type { KubeObject } from './types.ts';

/** The API group of an apiVersion: `''` for the core group (`v1`), `security.istio.io` for `security.istio.io/v1`. */
export function groupOf(apiVersion: string): string {
  const slash = apiVersion.lastIndexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}

/**
 * The identity of an object: group/kind/namespace/name. The version is left out on purpose: one
 * object served at `v1beta1` and `v1` of its group is the same object. `/` cannot occur in a group,
 * kind, namespace or name, so the key is unambiguous.
 */
export function objectKey(object: Pick<KubeObject, 'apiVersion' | 'kind' | 'metadata'>): string {
  return `${groupOf(object.apiVersion)}/${object.kind}/${object.metadata.namespace ?? ''}/${object.metadata.name}`;
}

export interface ParsedKey {
  readonly group: string;
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
}

export function parseObjectKey(key: string): ParsedKey | undefined {
  // A group may contain dots but no slash; so may the others: exactly four parts.
  const parts = key.split('/');
  if (parts.length !== 4) return undefined;
  const [group, kind, namespace, name] = parts as [string, string, string, string];
  return { group, kind, namespace, name };
}
