import { configured, noConfig } from '../config-util.ts';
import type { ConfigResult, FilterDefinition, FilterFactory } from '../types.ts';
import { rewriteFilter } from './filter.ts';

export function configureRewrite(raw: unknown): ConfigResult<FilterFactory> {
  return configured('rewrite', () => {
    noConfig('rewrite', raw);
    return () => rewriteFilter();
  });
}

export const rewrite: FilterDefinition = { name: 'rewrite', configure: configureRewrite };
