export {
  ambientRules,
  type CaptureMode,
  podRules,
  type RuleSet,
  sidecarRules,
  type TableName,
  type TableRules,
} from './build.ts';
export * from './constants.ts';
export {
  checkRules,
  EMPTY_STATE,
  installRules,
  parseSave,
  type RuleCheck,
  removalRules,
  restoreText,
  type SavedState,
  type SavedTable,
} from './restore.ts';
export {
  EMPTY_SPEC,
  FAMILIES,
  type Family,
  parsePortList,
  type RuleSpec,
  type RuleSpecError,
  type RuleSpecInput,
  type RuleSpecResult,
  ruleSpec,
} from './spec.ts';
