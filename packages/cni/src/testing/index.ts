// @weft/cni/testing: fakes for other packages' tests and our own.
export { type MemoryApplierCall, MemoryRuleApplier } from './applier.ts';
export { inNetns, isRoot, NOT_ROOT_MESSAGE, ThrowawayNetns } from './netns.ts';
