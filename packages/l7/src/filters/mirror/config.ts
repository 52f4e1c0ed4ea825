import { configured, onlyKeys, optionalNumber, optionalRecord } from '../config-util.ts';
import type { ConfigResult, FilterDefinition, FilterFactory } from '../types.ts';
import { mirrorFilter } from './filter.ts';

export interface MirrorConfig {
  /** Bodies up to this size are buffered so the copy can carry them; larger ones skip the mirror. Default 64 KiB. */
  readonly maxBodyBytes: number;
  /** Deadline of a mirrored request. Default 10 s. */
  readonly timeoutMs: number;
}

export function configureMirror(raw: unknown): ConfigResult<FilterFactory> {
  return configured('mirror', () => {
    const c = optionalRecord('', raw);
    onlyKeys('', c, ['maxBodyBytes', 'timeoutMs']);
    const cfg: MirrorConfig = {
      maxBodyBytes: optionalNumber('maxBodyBytes', c.maxBodyBytes, 0, 64 * 1024 * 1024) ?? 64 * 1024,
      timeoutMs: optionalNumber('timeoutMs', c.timeoutMs, 1, 3_600_000) ?? 10_000,
    };
    return (ctx) => mirrorFilter(cfg, ctx);
  });
}

export const mirror: FilterDefinition = { name: 'mirror', configure: configureMirror };
