// The pods the agent knows (every pod a CNI ADD told it about, in the mesh or not, so a label
// change can enroll a running pod), persisted in --state-dir with an atomic write (temp file,
// fsync, rename, fsync of the folder) so a crash leaves the old or the new file, never half.

import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { isContainerId, isIfname, isNamespace, isPodName, isUid, type PodIp } from '../api/messages.ts';
import { netnsPathError } from '../protocol/netns.ts';
import type { RuleSpec } from '../rules/index.ts';
import type { CaptureIntent } from './inventory.ts';

export interface PodRecord {
  readonly namespace: string;
  readonly name: string;
  readonly uid?: string;
  readonly containerId: string;
  readonly netns: string;
  readonly ifname: string;
  readonly ips: readonly PodIp[];
  /** The capture installed in the pod netns now. */
  readonly mode: CaptureIntent;
  /** The spec the installed rules were built from (absent for mode none). */
  readonly spec?: RuleSpec;
}

export const STATE_FILE = 'pods.json';
const STATE_VERSION = 1;
const MAX_STATE_BYTES = 16 * 1024 * 1024;

export interface LoadedState {
  readonly pods: readonly PodRecord[];
  /** Records or files that could not be read, one line each. */
  readonly problems: readonly string[];
}

export async function loadState(dir: string): Promise<LoadedState> {
  let text: string;
  try {
    text = await readFile(join(dir, STATE_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { pods: [], problems: [] };
    return { pods: [], problems: [`${STATE_FILE}: ${(err as Error).message}`] };
  }
  if (text.length > MAX_STATE_BYTES)
    return { pods: [], problems: [`${STATE_FILE}: larger than ${MAX_STATE_BYTES}`] };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { pods: [], problems: [`${STATE_FILE}: not valid JSON`] };
  }
  const doc = raw as { version?: unknown; pods?: unknown };
  if (typeof raw !== 'object' || raw === null || doc.version !== STATE_VERSION || !Array.isArray(doc.pods)) {
    return { pods: [], problems: [`${STATE_FILE}: not a version ${STATE_VERSION} state file`] };
  }
  const pods: PodRecord[] = [];
  const problems: string[] = [];
  for (const [i, p] of doc.pods.entries()) {
    const record = decodeRecord(p);
    if (typeof record === 'string') problems.push(`${STATE_FILE} pods[${i}]: ${record}`);
    else pods.push(record);
  }
  return { pods, problems };
}

export async function saveState(dir: string, pods: Iterable<PodRecord>): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const body = `${JSON.stringify({ version: STATE_VERSION, pods: [...pods] }, null, 1)}\n`;
  const final = join(dir, STATE_FILE);
  const tmp = `${final}.tmp-${process.pid}`;
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(body);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, final);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
  const d = await open(dir, 'r');
  try {
    await d.sync();
  } catch {
    // some filesystems refuse fsync on a directory; the rename is still atomic
  } finally {
    await d.close();
  }
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const isPorts = (v: unknown) =>
  Array.isArray(v) && v.every((p) => typeof p === 'number' && Number.isInteger(p) && p >= 1 && p <= 65535);
const isStrings = (v: unknown) => Array.isArray(v) && v.every((s) => typeof s === 'string');

function decodeRecord(p: unknown): PodRecord | string {
  if (!isRecord(p)) return 'not an object';
  if (!isNamespace(p.namespace) || !isPodName(p.name)) return 'bad namespace or name';
  if (p.uid !== undefined && !isUid(p.uid)) return 'bad uid';
  if (!isContainerId(p.containerId)) return 'bad containerId';
  if (typeof p.netns !== 'string' || netnsPathError(p.netns) !== undefined) return 'bad netns';
  if (!isIfname(p.ifname)) return 'bad ifname';
  if (!Array.isArray(p.ips) || !p.ips.every((ip) => isRecord(ip) && typeof ip.address === 'string'))
    return 'bad ips';
  if (p.mode !== 'ambient' && p.mode !== 'sidecar' && p.mode !== 'none') return 'bad mode';
  let spec: RuleSpec | undefined;
  if (p.spec !== undefined) {
    const s = p.spec;
    if (
      !isRecord(s) ||
      !isPorts(s.excludeInboundPorts) ||
      !isPorts(s.excludeOutboundPorts) ||
      !isRecord(s.probeSources) ||
      !isStrings(s.probeSources[4]) ||
      !isStrings(s.probeSources[6])
    ) {
      return 'bad spec';
    }
    spec = s as unknown as RuleSpec;
  }
  const ips = (p.ips as Record<string, unknown>[]).map((ip) =>
    typeof ip.gateway === 'string'
      ? { address: String(ip.address), gateway: ip.gateway }
      : { address: String(ip.address) },
  );
  return {
    namespace: p.namespace,
    name: p.name,
    ...(p.uid !== undefined ? { uid: p.uid as string } : {}),
    containerId: p.containerId,
    netns: p.netns,
    ifname: p.ifname,
    ips,
    mode: p.mode,
    ...(spec ? { spec } : {}),
  };
}
