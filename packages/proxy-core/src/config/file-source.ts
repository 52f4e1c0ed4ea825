// The static config source (tests, local debugging without weftd): a YAML (multi-document) or
// JSON file of Kubernetes-shaped objects, read with @weft/policy's one manifest parser and
// compiled by @weft/policy exactly as weftd would, then written through `applyUpdate` as a full
// replacement. A bad document or invalid object is reported and skipped; the rest applies.
// The manifest parser and compiler (zod schemas, yaml: about 20 MiB resident on Node) load on
// first use, so a proxy fed over xDS never carries them.
import { readFile } from 'node:fs/promises';
import type { CompileOptions, ValidationError } from '@weft/policy';
import { type ApplyResult, applyUpdate, batchFromSnapshot, type StateStore } from '../state/store.ts';

export const FILE_SOURCE = 'file';

/** The name manifest errors carry when the text came from no file. */
const INLINE = 'manifests';

export interface FileLoadResult {
  /** false when the file could not be read or a document was refused (the rest still applied) */
  readonly ok: boolean;
  /** The file's read error, or the documents the manifest parser refused (`<file>: document <n>: ...`). */
  readonly parseErrors: readonly string[];
  /** Objects the compiler refused (the rest applied). */
  readonly invalid: readonly ValidationError[];
  /** Absent only when the file could not be read. */
  readonly applied?: ApplyResult;
}

/** Compiles `text` and replaces the store's state with it; `file` names the text in errors. */
export async function loadManifests(
  store: StateStore,
  text: string,
  options: CompileOptions = {},
  file: string = INLINE,
): Promise<FileLoadResult> {
  const { compile, parseManifests } = await import('@weft/policy');
  const { objects, errors } = parseManifests(text, file, {
    ...(options.defaultNamespace !== undefined ? { defaultNamespace: options.defaultNamespace } : {}),
  });
  const { snapshot, errors: invalid } = compile(objects, {
    trustDomain: store.state.trustDomain,
    rootNamespace: store.state.rootNamespace,
    ...options,
  });
  const applied = applyUpdate(store, batchFromSnapshot(snapshot, FILE_SOURCE));
  return { ok: errors.length === 0, parseErrors: errors.map((e) => e.message), invalid, applied };
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
  return loadManifests(store, text, options, path);
}
