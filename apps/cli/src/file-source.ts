// Edits to weftd's file source (a --config-dir of manifests): set or remove a label on one
// object, keeping the rest of each file (comments, order) as written.
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { usageError } from './errors.ts';

export function configDir(dir: string | undefined, cwd: string): string {
  if (dir === undefined)
    throw usageError('--config-dir <dir> is required: the folder weftd reads manifests from');
  const abs = resolve(cwd, dir);
  if (!existsSync(abs) || !statSync(abs).isDirectory()) throw usageError(`--config-dir ${dir}: not a folder`);
  return abs;
}

const manifestFiles = (dir: string): string[] =>
  readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()
    .map((f) => join(dir, f));

export interface ObjectRef {
  readonly kind: string;
  readonly namespace?: string;
  readonly name: string;
}

const describe = (r: ObjectRef): string =>
  `${r.kind} ${r.namespace !== undefined ? `${r.namespace}/` : ''}${r.name}`;

/**
 * Sets `labels[key] = value` (or removes it with `undefined`) on the object `ref` in `dir`.
 * Returns the file changed; a missing object is a usage error.
 */
export function setLabel(dir: string, ref: ObjectRef, key: string, value: string | undefined): string {
  for (const file of manifestFiles(dir)) {
    const text = readFileSync(file, 'utf8');
    const docs = parseAllDocuments(text);
    if (!Array.isArray(docs)) continue;
    let changed = false;
    for (const doc of docs) {
      if (doc.errors.length > 0) continue;
      const kind = doc.getIn(['kind']);
      const name = doc.getIn(['metadata', 'name']);
      const ns = doc.getIn(['metadata', 'namespace']) ?? (kind === 'Namespace' ? undefined : 'default');
      if (kind !== ref.kind || name !== ref.name || (ref.namespace !== undefined && ns !== ref.namespace))
        continue;
      if (value === undefined) doc.deleteIn(['metadata', 'labels', key]);
      else doc.setIn(['metadata', 'labels', key], value);
      changed = true;
    }
    if (changed) {
      writeFileSync(file, docs.map((d) => d.toString()).join(''));
      return file;
    }
  }
  throw usageError(`no ${describe(ref)} in ${dir}`);
}
