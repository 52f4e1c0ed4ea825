// Manifest text -> Kubernetes-shaped objects: the one manifest parser, used by weftd's file
// source and the proxies' static config file. Checks shape only (apiVersion, kind,
// metadata.name); meaning is validate/compile's job. Every rejection names the file, the
// document and the field, and a bad document is rejected alone.
import { parseAllDocuments } from 'yaml';

/** `metadata` of an object, as found in the text. Only `name` is guaranteed by the parser. */
export interface ManifestMeta {
  readonly name: string;
  readonly namespace?: string;
  readonly uid?: string;
  readonly resourceVersion?: string;
  readonly generation?: number;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly [field: string]: unknown;
}

/** A Kubernetes-shaped object as plain JSON: what `kubectl get -o json` prints. */
export interface ManifestObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: ManifestMeta;
  readonly spec?: unknown;
  readonly status?: unknown;
  readonly [field: string]: unknown;
}

/** Kinds that have no namespace, so `defaultNamespace` is not applied to them. */
export const CLUSTER_SCOPED_KINDS: ReadonlySet<string> = new Set([
  'Namespace',
  'Node',
  'PersistentVolume',
  'CustomResourceDefinition',
  'ClusterRole',
  'ClusterRoleBinding',
  'GatewayClass',
  'MutatingWebhookConfiguration',
  'ValidatingWebhookConfiguration',
  'StorageClass',
  'PriorityClass',
  'APIService',
]);

export interface ParseManifestOptions {
  /** namespace given to namespaced objects that have none, as `kubectl apply` does (default 'default') */
  readonly defaultNamespace?: string;
  /** YAML alias expansion cap: defends against "billion laughs" documents (default 100) */
  readonly maxAliasCount?: number;
}

/** One refused document (or List item), named by file, 0-based document index and field. */
export interface ManifestError {
  /** `parse`: not YAML/JSON; `invalid-object`: not a Kubernetes-shaped object */
  readonly reason: 'parse' | 'invalid-object';
  readonly file: string;
  readonly document: number;
  /** the offending field, as a dotted path (`metadata.name`, `items[2].kind`) */
  readonly field?: string;
  /** 1-based line and column of a parse error, counted from the start of the text */
  readonly line?: number;
  readonly column?: number;
  /** `<file>: document <n>: [<field>: ]<problem>` */
  readonly message: string;
}

export interface ParsedManifest {
  readonly objects: readonly ManifestObject[];
  readonly errors: readonly ManifestError[];
}

/**
 * Parses a (multi-document) YAML or JSON text. Valid documents are returned even when others in
 * the same text are invalid; what to do with a partly bad file is the caller's decision.
 * Objects are deep-frozen: they are shared by every reader.
 */
export function parseManifests(
  text: string,
  file: string,
  options: ParseManifestOptions = {},
): ParsedManifest {
  const objects: ManifestObject[] = [];
  const errors: ManifestError[] = [];
  const defaultNamespace = options.defaultNamespace ?? 'default';
  const docs = parseAllDocuments(text, { uniqueKeys: true, prettyErrors: true, version: '1.2' });
  // An empty stream (only comments or whitespace) is a valid, empty manifest.
  if (!Array.isArray(docs)) return { objects, errors };
  docs.forEach((doc, document) => {
    const yamlError = doc.errors[0];
    if (yamlError !== undefined) {
      const pos = yamlError.linePos?.[0];
      errors.push({
        reason: 'parse',
        file,
        document,
        message: `${file}: document ${document}: ${firstLine(yamlError.message)}`,
        ...(pos !== undefined ? { line: pos.line, column: pos.col } : {}),
      });
      return;
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: options.maxAliasCount ?? 100 });
    } catch (err) {
      errors.push({
        reason: 'parse',
        file,
        document,
        message: `${file}: document ${document}: ${firstLine(err instanceof Error ? err.message : String(err))}`,
      });
      return;
    }
    // `---` followed by nothing, or a document of comments only.
    if (value === null || value === undefined) return;
    const fail = (field: string, problem: string): void => {
      errors.push({
        reason: 'invalid-object',
        file,
        document,
        field,
        message: `${file}: document ${document}: ${field === '' ? '' : `${field}: `}${problem}`,
      });
    };
    if (isRecord(value) && isListKind(value)) {
      const items = value.items;
      if (!Array.isArray(items)) {
        fail('items', 'a List needs an items array');
        return;
      }
      items.forEach((item, i) => {
        const object = checkObject(item, `items[${i}].`, fail, defaultNamespace);
        if (object !== undefined) objects.push(object);
      });
      return;
    }
    const object = checkObject(value, '', fail, defaultNamespace);
    if (object !== undefined) objects.push(object);
  });
  return { objects, errors };
}

function isListKind(value: Record<string, unknown>): boolean {
  const kind = value.kind;
  // `kind: List` (kubectl's generic list) and typed lists such as `PodList`.
  return kind === 'List' || (typeof kind === 'string' && kind.endsWith('List') && 'items' in value);
}

function checkObject(
  value: unknown,
  prefix: string,
  fail: (field: string, problem: string) => void,
  defaultNamespace: string,
): ManifestObject | undefined {
  const at = (field: string): string => `${prefix}${field}`;
  if (!isRecord(value)) {
    fail(prefix === '' ? '' : prefix.slice(0, -1), `expected an object, got ${describe(value)}`);
    return undefined;
  }
  const { apiVersion, kind, metadata } = value;
  if (typeof apiVersion !== 'string' || apiVersion === '') {
    fail(at('apiVersion'), 'missing or not a string');
    return undefined;
  }
  if (!/^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[a-z0-9]+$/.test(apiVersion)) {
    fail(at('apiVersion'), `"${apiVersion}" is not "version" or "group/version"`);
    return undefined;
  }
  if (typeof kind !== 'string' || kind === '') {
    fail(at('kind'), 'missing or not a string');
    return undefined;
  }
  if (!/^[A-Za-z][A-Za-z0-9]*$/.test(kind)) {
    fail(at('kind'), `"${kind}" is not a kind name`);
    return undefined;
  }
  if (kind.endsWith('List') && 'items' in value) {
    fail(at('kind'), 'a List cannot be nested in a List');
    return undefined;
  }
  if (!isRecord(metadata)) {
    fail(at('metadata'), 'missing or not an object');
    return undefined;
  }
  const { name, namespace } = metadata;
  if (typeof name !== 'string' || name === '') {
    fail(at('metadata.name'), 'missing or not a string');
    return undefined;
  }
  // A slash would make object keys ambiguous; Kubernetes forbids it in names anyway.
  if (name.includes('/')) {
    fail(at('metadata.name'), `"${name}" contains "/"`);
    return undefined;
  }
  if (
    namespace !== undefined &&
    (typeof namespace !== 'string' || namespace === '' || namespace.includes('/'))
  ) {
    fail(at('metadata.namespace'), 'not a non-empty string without "/"');
    return undefined;
  }
  const object =
    namespace === undefined && !CLUSTER_SCOPED_KINDS.has(kind)
      ? { ...value, metadata: { ...metadata, namespace: defaultNamespace } }
      : value;
  return deepFreeze(object) as unknown as ManifestObject;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a sequence';
  return `a ${typeof value}`;
}

function firstLine(message: string): string {
  return message.split('\n', 1)[0] ?? message;
}

/** Freezes `value` and everything reachable from it; returns it. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
