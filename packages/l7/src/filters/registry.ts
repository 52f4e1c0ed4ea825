// Filters register by name; a chain config (a list of names and configs) is validated and built
// once into one Handler. Later requests only call closures.
import { fault } from './fault/config.ts';
import { headers } from './headers/config.ts';
import { mirror } from './mirror/config.ts';
import { rbac } from './rbac/config.ts';
import { rewrite } from './rewrite/config.ts';
import { route } from './route/config.ts';
import { router } from './router/config.ts';
import { trace } from './trace/config.ts';
import type { ConfigResult, FilterContext, FilterDefinition, FilterSpec, Handler } from './types.ts';

export interface FilterRegistry {
  register(def: FilterDefinition): void;
  get(name: string): FilterDefinition | undefined;
  names(): string[];
}

export const BUILTIN_FILTERS: readonly FilterDefinition[] = [
  trace,
  rbac,
  route,
  fault,
  rewrite,
  headers,
  mirror,
  router,
];

/** The chain every waypoint runs unless configured otherwise. */
export const DEFAULT_FILTER_CHAIN: readonly FilterSpec[] = [
  { name: 'trace' },
  { name: 'rbac' },
  { name: 'route' },
  { name: 'fault' },
  { name: 'rewrite' },
  { name: 'headers' },
  { name: 'mirror' },
  { name: 'router' },
];

export function createFilterRegistry(defs: readonly FilterDefinition[] = BUILTIN_FILTERS): FilterRegistry {
  const byName = new Map<string, FilterDefinition>();
  const registry: FilterRegistry = {
    register(def) {
      if (!/^[a-z][a-z0-9-]*$/.test(def.name))
        throw new Error(`filter name "${def.name}" must be lower-case kebab`);
      if (byName.has(def.name)) throw new Error(`filter "${def.name}" is already registered`);
      byName.set(def.name, def);
    },
    get: (name) => byName.get(name),
    names: () => [...byName.keys()],
  };
  for (const d of defs) registry.register(d);
  return registry;
}

/**
 * Validates every filter config and composes the chain: specs[0] runs first. Exactly one terminal
 * filter, last. Errors name the filter position and field.
 */
export function buildChain(
  specs: readonly FilterSpec[],
  registry: FilterRegistry,
  ctx: FilterContext,
): ConfigResult<Handler> {
  if (specs.length === 0)
    return { ok: false, error: { filter: '', field: 'filters', message: 'the chain is empty' } };
  const factories = [];
  for (let i = 0; i < specs.length; i++) {
    const spec = specs[i] as FilterSpec;
    const def = registry.get(spec.name);
    if (def === undefined)
      return {
        ok: false,
        error: { filter: spec.name, field: `filters[${i}].name`, message: `unknown filter "${spec.name}"` },
      };
    const last = i === specs.length - 1;
    if (def.terminal && !last)
      return {
        ok: false,
        error: { filter: spec.name, field: `filters[${i}]`, message: 'a terminal filter must be last' },
      };
    if (!def.terminal && last)
      return {
        ok: false,
        error: {
          filter: spec.name,
          field: `filters[${i}]`,
          message: 'the chain must end with a terminal filter (router)',
        },
      };
    const r = def.configure(spec.config);
    if (!r.ok)
      return {
        ok: false,
        error: {
          ...r.error,
          field: r.error.field === '' ? `filters[${i}].config` : `filters[${i}].config.${r.error.field}`,
        },
      };
    factories.push(r.value);
  }
  // compose from the end: the terminal gets a handler it never calls
  let handler: Handler = () => Promise.reject(new Error('terminal filter called next'));
  for (let i = factories.length - 1; i >= 0; i--)
    handler = (factories[i] as (c: FilterContext) => (n: Handler) => Handler)(ctx)(handler);
  return { ok: true, value: handler };
}
