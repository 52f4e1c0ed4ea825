import { configured, noConfig } from '../config-util.ts';
import type { ConfigResult, FilterDefinition, FilterFactory } from '../types.ts';
import { faultFilter } from './filter.ts';

export function configureFault(raw: unknown): ConfigResult<FilterFactory> {
  return configured('fault', () => {
    noConfig('fault', raw);
    return (ctx) => faultFilter(ctx);
  });
}

export const fault: FilterDefinition = { name: 'fault', configure: configureFault };
