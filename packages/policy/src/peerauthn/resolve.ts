// Effective mTLS mode of a workload port: mesh -> namespace -> workload -> port, each level
// overriding the previous unless it says UNSET. Without any policy a workload is PERMISSIVE.
import { selectorMatches } from '../labels.ts';
import type {
  Labels,
  MeshSnapshot,
  MtlsMode,
  MtlsModeSetting,
  PeerAuthenticationPolicy,
} from '../snapshot.ts';

export interface PeerAuthenticationSet {
  readonly rootNamespace: string;
  readonly policies: readonly PeerAuthenticationPolicy[];
}

export interface PeerAuthenticationSubject {
  readonly namespace: string;
  readonly labels: Labels;
  /** When given and the source is a snapshot, the precompiled result is used. */
  readonly uid?: string;
}

export const DEFAULT_MTLS_MODE: MtlsMode = 'PERMISSIVE';

function older(a: PeerAuthenticationPolicy, b: PeerAuthenticationPolicy): number {
  const ta = a.createdAt ?? '\uffff';
  const tb = b.createdAt ?? '\uffff';
  if (ta !== tb) return ta < tb ? -1 : 1;
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}

function pick(policies: readonly PeerAuthenticationPolicy[]): PeerAuthenticationPolicy | undefined {
  return [...policies].sort(older)[0];
}

/** The policies that govern a workload, one per level (oldest wins within a level). */
export function applicablePeerAuthentication(
  set: PeerAuthenticationSet,
  subject: PeerAuthenticationSubject,
): {
  mesh?: PeerAuthenticationPolicy;
  namespace?: PeerAuthenticationPolicy;
  workload?: PeerAuthenticationPolicy;
} {
  const mesh = pick(set.policies.filter((p) => p.scope === 'mesh' && p.namespace === set.rootNamespace));
  const namespace = pick(
    set.policies.filter(
      (p) =>
        p.scope === 'namespace' && p.namespace === subject.namespace && p.namespace !== set.rootNamespace,
    ),
  );
  const workload = pick(
    set.policies.filter(
      (p) =>
        p.scope === 'workload' &&
        p.namespace === subject.namespace &&
        selectorMatches(p.selector, subject.labels),
    ),
  );
  return {
    ...(mesh ? { mesh } : {}),
    ...(namespace ? { namespace } : {}),
    ...(workload ? { workload } : {}),
  };
}

function apply(current: MtlsMode, setting: MtlsModeSetting | undefined): MtlsMode {
  return setting === undefined || setting === 'UNSET' ? current : setting;
}

function isSnapshot(source: MeshSnapshot | PeerAuthenticationSet): source is MeshSnapshot {
  return 'peerAuthenticationPolicies' in source;
}

/**
 * The mTLS mode for traffic to `port` (the workload's target port) of `workload`.
 * `source` is a compiled snapshot or a bare set of compiled policies (what a proxy holds).
 */
export function resolvePeerAuthentication(
  source: MeshSnapshot | PeerAuthenticationSet,
  workload: PeerAuthenticationSubject,
  port?: number,
): MtlsMode {
  if (isSnapshot(source)) {
    const pre = workload.uid === undefined ? undefined : source.peerAuthentication[workload.uid];
    if (pre) return (port !== undefined ? pre.ports[String(port)] : undefined) ?? pre.mode;
    return resolvePeerAuthentication(
      { rootNamespace: source.rootNamespace, policies: Object.values(source.peerAuthenticationPolicies) },
      { namespace: workload.namespace, labels: workload.labels },
      port,
    );
  }
  const levels = applicablePeerAuthentication(source, workload);
  let mode = DEFAULT_MTLS_MODE;
  mode = apply(mode, levels.mesh?.mode);
  mode = apply(mode, levels.namespace?.mode);
  mode = apply(mode, levels.workload?.mode);
  if (port !== undefined) mode = apply(mode, levels.workload?.portModes[String(port)]);
  return mode;
}

/** The workload's mode and the ports that differ from it (what the snapshot precomputes). */
export function resolveWorkloadPeerAuthentication(
  set: PeerAuthenticationSet,
  workload: PeerAuthenticationSubject,
): { mode: MtlsMode; ports: Record<string, MtlsMode> } {
  const mode = resolvePeerAuthentication(set, workload);
  const ports: Record<string, MtlsMode> = {};
  const levels = applicablePeerAuthentication(set, workload);
  for (const port of Object.keys(levels.workload?.portModes ?? {})) {
    const m = resolvePeerAuthentication(set, workload, Number(port));
    if (m !== mode) ports[port] = m;
  }
  return { mode, ports };
}
