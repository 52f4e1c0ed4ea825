// Static config from YAML/JSON manifests (debugging without weftd): compiled with @weft/policy
// into a snapshot and applied once. Invalid objects are reported and skipped, as weftd does.
import { readFile } from 'node:fs/promises';
import { compile } from '@weft/policy';
import { parseAllDocuments } from 'yaml';
import { type ConfigSource, staticConfigSource } from './config-source.ts';

export interface ManifestLoad {
  readonly source: ConfigSource;
  /** "<path>: <message>" per refused object. */
  readonly errors: readonly string[];
}

export async function loadManifests(path: string): Promise<ManifestLoad> {
  const text = await readFile(path, 'utf8');
  const objects: unknown[] = [];
  const errors: string[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) {
      errors.push(`${path}: ${doc.errors[0]?.message ?? 'invalid YAML'}`);
      continue;
    }
    const v = doc.toJS();
    if (v !== null && v !== undefined) objects.push(v);
  }
  const { snapshot, errors: compileErrors } = compile(objects);
  for (const e of compileErrors) errors.push(`${e.path}: ${e.message}`);
  return { source: staticConfigSource(snapshot, `file ${path}`), errors };
}
