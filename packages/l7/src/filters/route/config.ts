import { configured, noConfig } from '../config-util.ts';
import type { ConfigResult, FilterDefinition, FilterFactory } from '../types.ts';
import { routeFilter } from './filter.ts';

export function configureRoute(raw: unknown): ConfigResult<FilterFactory> {
  return configured('route', () => {
    noConfig('route', raw);
    return (ctx) => routeFilter(ctx);
  });
}

export const route: FilterDefinition = { name: 'route', configure: configureRoute };
