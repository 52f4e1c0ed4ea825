// Manifest text -> Kubernetes-shaped objects, read with @weft/policy's one manifest parser (shape
// only; every rejection names the file, document and field). What stays here is weftd's typing
// of its results as source objects and errors, and small helpers the sources share.
import { type ParseManifestOptions, parseManifests as parseManifestText } from '@weft/policy';
import type { KubeObject, SourceError } from './types.ts';

export { CLUSTER_SCOPED_KINDS, deepFreeze, type ParseManifestOptions } from '@weft/policy';

/** A manifest error before a source stamps its name on it. */
export type ManifestError = Omit<SourceError, 'source'>;

export interface ParsedManifest {
  readonly objects: readonly KubeObject[];
  readonly errors: readonly ManifestError[];
}

/**
 * Parses a (multi-document) YAML or JSON text. Valid documents are returned even when others in
 * the same text are invalid; what to do with a partly bad file is the caller's decision.
 * Objects are deep-frozen: they are shared by the store and every reader.
 */
export function parseManifests(
  text: string,
  file: string,
  options: ParseManifestOptions = {},
): ParsedManifest {
  return parseManifestText(text, file, options);
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
