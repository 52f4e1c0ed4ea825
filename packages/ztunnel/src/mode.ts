// The data-plane mode ztunnel serves. proxy-core's decisions take it as a parameter: a source
// (outbound) or destination (inbound) workload in another mode is not this proxy's to serve.
import type { DataplaneMode } from '@weft/policy/runtime';

export const ZTUNNEL_MODE: DataplaneMode = 'ambient';
