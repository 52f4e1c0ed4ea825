import type { DataplaneMode } from '@weft/policy';

/** The data-plane mode this proxy serves: proxy-core's decisions take it as a parameter. */
export const SIDECAR_MODE: DataplaneMode = 'sidecar';
