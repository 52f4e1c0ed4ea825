// PeerAuthentication -> PeerAuthenticationPolicy.
import { contentHash } from '../hash.ts';
import type { PeerAuthenticationResource } from '../schemas/security.ts';
import type { MtlsModeSetting, PeerAuthenticationPolicy } from '../snapshot.ts';
import { type CompileContext, nsOf, sortedRecord } from './context.ts';

export function compilePeerAuthentication(
  ctx: CompileContext,
  obj: PeerAuthenticationResource,
): PeerAuthenticationPolicy {
  const namespace = nsOf(obj);
  const selector = obj.spec?.selector?.matchLabels;
  const hasSelector = selector !== undefined && Object.keys(selector).length > 0;
  const portModes = sortedRecord<MtlsModeSetting>(
    Object.entries(obj.spec?.portLevelMtls ?? {}).map(
      ([port, m]) => [String(Number(port)), m.mode ?? 'UNSET'] as const,
    ),
  );
  const policy: Omit<PeerAuthenticationPolicy, 'hash'> = {
    key: `${namespace}/${obj.metadata.name}`,
    name: obj.metadata.name,
    namespace,
    scope: hasSelector ? 'workload' : namespace === ctx.rootNamespace ? 'mesh' : 'namespace',
    ...(hasSelector ? { selector } : {}),
    mode: obj.spec?.mtls?.mode ?? 'UNSET',
    portModes,
    ...(obj.metadata.creationTimestamp ? { createdAt: obj.metadata.creationTimestamp } : {}),
  };
  return { ...policy, hash: contentHash(policy) };
}
