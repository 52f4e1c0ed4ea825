import type { HeaderModifier } from '@weft/policy';
import { configured, headerModifier, onlyKeys, optionalBoolean, optionalRecord } from '../config-util.ts';
import type { ConfigResult, FilterDefinition, FilterFactory } from '../types.ts';
import { headersFilter } from './filter.ts';

export interface HeadersConfig {
  /** Applied to every request after the route's own request header changes. */
  readonly request?: HeaderModifier | undefined;
  /** Applied to every response after the route's own response header changes. */
  readonly response?: HeaderModifier | undefined;
  /** Apply the route rule's requestHeaders / responseHeaders (default true). */
  readonly fromRoute: boolean;
}

export function configureHeaders(raw: unknown): ConfigResult<FilterFactory> {
  return configured('headers', () => {
    const c = optionalRecord('', raw);
    onlyKeys('', c, ['request', 'response', 'fromRoute']);
    const cfg: HeadersConfig = {
      request: headerModifier('request', c.request),
      response: headerModifier('response', c.response),
      fromRoute: optionalBoolean('fromRoute', c.fromRoute) ?? true,
    };
    return () => headersFilter(cfg);
  });
}

export const headers: FilterDefinition = { name: 'headers', configure: configureHeaders };
