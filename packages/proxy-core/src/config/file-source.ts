// The static config source (tests, local debugging without weftd): a YAML (multi-document) or
// JSON file of Kubernetes-shaped objects, compiled by @weft/policy exactly as weftd would, and
// written through `applyUpdate` as a full replacement. Invalid objects are reported and skipped.
import { readFile } from 'node:fs/promises';
import { type CompileOptions, compile, type ValidationError } from '@weft/policy';
import { parseAllDocuments } from 'yaml';
import { type ApplyResult, applyUpdate, batchFromSnapshot, type StateStore } from '../state/store.ts';

export const FILE_SOURCE = 'file';

export interface FileLoadResult {
  readonly ok: boolean;
  /** Parse errors of the file itself (nothing applied when there are any). */
  readonly parseErrors: readonly string[];
  /** Objects the compiler refused (the rest applied). */
  readonly invalid: readonly ValidationError[];
  readonly applied?: ApplyResult;
}

/** Objects from YAML/JSON text: documents, lists, and `kind: List` items are flattened. */
export function parseManifests(text: string): { objects: unknown[]; errors: string[] } {
  const objects: unknown[] = [];
  const errors: string[] = [];
  const docs = parseAllDocuments(text);
  const list = Array.isArray(docs) ? docs : [docs];
  list.forEach((doc, i) => {
    if (doc.errors.length > 0) {
      errors.push(`document ${i}: ${doc.errors[0]?.message ?? 'parse error'}`);
      return;
    }
    const value: unknown = doc.toJSON();
    const push = (v: unknown) => {
      if (v === null || v === undefined) return;
      if (Array.isArray(v)) v.forEach(push);
      else if (typeof v === 'object' && (v as { kind?: unknown }).kind === 'List')
        push((v as { items?: unknown }).items ?? []);
      else objects.push(v);
    };
    push(value);
  });
  return { objects, errors };
}

/** Compiles `text` and replaces the store's state with it. */
export function loadManifests(store: StateStore, text: string, options: CompileOptions = {}): FileLoadResult {
  const { objects, errors } = parseManifests(text);
  if (errors.length > 0) return { ok: false, parseErrors: errors, invalid: [] };
  const { snapshot, errors: invalid } = compile(objects, {
    trustDomain: store.state.trustDomain,
    rootNamespace: store.state.rootNamespace,
    ...options,
  });
  const applied = applyUpdate(store, batchFromSnapshot(snapshot, FILE_SOURCE));
  return { ok: true, parseErrors: [], invalid, applied };
}

export async function loadConfigFile(
  store: StateStore,
  path: string,
  options: CompileOptions = {},
): Promise<FileLoadResult> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    return { ok: false, parseErrors: [`${path}: ${(err as Error).message}`], invalid: [] };
  }
  return loadManifests(store, text, options);
}
