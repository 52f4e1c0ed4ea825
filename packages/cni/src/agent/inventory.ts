// What the manifests folder says about pods: each pod's data-plane mode (compiled by
// @weft/policy, so the agent and the control plane read `weft.dev/dataplane-mode` the same way)
// and its annotations (the capture exclusions). A pod the folder does not list takes its
// namespace's label, so a pod started before its manifest is written is still captured.

import type { Dirent } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import {
  compile,
  formatValidationError,
  LABEL_DATAPLANE_MODE,
  type ManifestObject,
  parseManifests,
} from '@weft/policy';

export type CaptureIntent = 'ambient' | 'sidecar' | 'none';

export interface PodIntent {
  readonly mode: CaptureIntent;
  /** Why, for logs and the CNI answer ("pod label", "namespace label", "no label"). */
  readonly source: string;
  readonly annotations: Readonly<Record<string, string>>;
}

export interface Inventory {
  lookup(namespace: string, name: string): PodIntent;
  /** Manifest errors and compile errors/warnings, one line each (logged by the agent). */
  readonly problems: readonly string[];
}

const toIntent = (mode: string | undefined): CaptureIntent | undefined =>
  mode === 'ambient' || mode === 'sidecar'
    ? mode
    : mode === 'none' || mode === 'proxyless'
      ? 'none'
      : undefined;

export const EMPTY_INVENTORY: Inventory = {
  lookup: () => ({ mode: 'none', source: 'no manifests', annotations: {} }),
  problems: [],
};

export function buildInventory(
  objects: readonly ManifestObject[],
  problems: readonly string[] = [],
): Inventory {
  const result = compile(objects);
  const modes = new Map<string, CaptureIntent>();
  for (const w of Object.values(result.snapshot.workloads))
    modes.set(`${w.namespace}/${w.name}`, toIntent(w.mode) ?? 'none');
  const annotations = new Map<string, Readonly<Record<string, string>>>();
  for (const o of objects) {
    if (o.kind !== 'Pod') continue;
    const a = o.metadata.annotations;
    annotations.set(
      `${o.metadata.namespace ?? 'default'}/${o.metadata.name}`,
      a && typeof a === 'object' ? a : {},
    );
  }
  const nsModes = new Map<string, CaptureIntent>();
  for (const ns of Object.values(result.snapshot.namespaces)) {
    const intent = toIntent(ns.labels[LABEL_DATAPLANE_MODE]);
    if (intent) nsModes.set(ns.name, intent);
  }
  const all = [...problems, ...result.errors.map((e) => formatValidationError(e))];
  return {
    problems: all,
    lookup(namespace, name) {
      const key = `${namespace}/${name}`;
      const mode = modes.get(key);
      const a = annotations.get(key) ?? {};
      if (mode !== undefined) return { mode, source: 'pod manifest', annotations: a };
      const nsMode = nsModes.get(namespace);
      if (nsMode !== undefined)
        return { mode: nsMode, source: `namespace ${namespace} label`, annotations: a };
      return { mode: 'none', source: 'pod not in the manifests', annotations: a };
    },
  };
}

const EXTENSIONS = new Set(['.yaml', '.yml', '.json']);
const MAX_FILE_BYTES = 4 * 1024 * 1024;

export interface ManifestScan {
  /** path -> size:mtime:ino, to tell whether anything changed since the last scan. */
  readonly fingerprint: string;
  readonly files: readonly string[];
}

/** Lists the folder's manifest files (recursively) with a cheap change fingerprint. */
export async function scanManifests(dir: string): Promise<ManifestScan> {
  const files: string[] = [];
  const parts: string[] = [];
  const walk = async (d: string, depth: number): Promise<void> => {
    if (depth > 8) return;
    let entries: Dirent[];
    try {
      entries = await readdir(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      if (e.name.startsWith('.') && e.name !== '..data') continue;
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p, depth + 1);
      else if (EXTENSIONS.has(extname(e.name).toLowerCase())) {
        try {
          const s = await stat(p);
          if (!s.isFile()) continue;
          files.push(p);
          parts.push(`${p}:${s.size}:${s.mtimeMs}:${s.ino}`);
        } catch {
          // vanished between readdir and stat
        }
      }
    }
  };
  await walk(dir, 0);
  return { fingerprint: parts.join('\n'), files };
}

/** Reads and compiles every manifest file; a bad file or document is reported, never fatal. */
export async function loadInventory(scan: ManifestScan): Promise<Inventory> {
  const objects: ManifestObject[] = [];
  const problems: string[] = [];
  for (const file of scan.files) {
    let text: string;
    try {
      const s = await stat(file);
      if (s.size > MAX_FILE_BYTES) {
        problems.push(`${file}: larger than ${MAX_FILE_BYTES} bytes; skipped`);
        continue;
      }
      text = await readFile(file, 'utf8');
    } catch (err) {
      problems.push(`${file}: ${(err as Error).message}`);
      continue;
    }
    const parsed = parseManifests(text, file);
    objects.push(...parsed.objects);
    for (const e of parsed.errors) problems.push(`${e.file} document ${e.document}: ${e.message}`);
  }
  return buildInventory(objects, problems);
}
