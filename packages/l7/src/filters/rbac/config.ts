import { configured, onlyKeys, optionalBoolean, optionalRecord } from '../config-util.ts';
import type { ConfigResult, FilterDefinition, FilterFactory } from '../types.ts';
import { rbacFilter } from './filter.ts';

export interface RbacConfig {
  /** false: decide and log, but let denied requests through (shadow mode). Default true. */
  readonly enforce: boolean;
}

export function configureRbac(raw: unknown): ConfigResult<FilterFactory> {
  return configured('rbac', () => {
    const c = optionalRecord('', raw);
    onlyKeys('', c, ['enforce']);
    const cfg: RbacConfig = { enforce: optionalBoolean('enforce', c.enforce) ?? true };
    return (ctx) => rbacFilter(cfg, ctx);
  });
}

export const rbac: FilterDefinition = { name: 'rbac', configure: configureRbac };
