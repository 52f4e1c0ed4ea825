// @weft/cni: the pure iptables rule builder, the capability that applies rules inside a pod
// netns, the CNI plugin's decisions and the node agent. The ztunnel protocol is its own
// subpath (`@weft/cni/protocol`) so ztunnel does not load any of this.

export {
  type NsenterApplierOptions,
  nsenterApplier,
  type RuleApplier,
  RuleCommandError,
} from './apply/applier.ts';
export {
  type ApplyOutcome,
  inspectRules,
  RuleCheckError,
  syncRules,
} from './apply/apply.ts';
export * from './rules/index.ts';
