import { configured, onlyKeys, optionalBoolean, optionalRecord } from '../config-util.ts';
import type { ConfigResult, FilterDefinition, FilterFactory } from '../types.ts';
import { traceFilter } from './filter.ts';

export interface TraceConfig {
  /** Start a W3C trace when none arrived, with this sampling decision. Default: do not start one. */
  readonly startTraceSampled?: boolean;
  /** Keep a sane incoming x-request-id (default true). */
  readonly keepRequestId?: boolean;
  /** Echo x-request-id on the response (default false). */
  readonly echoRequestId?: boolean;
}

export function configureTrace(raw: unknown): ConfigResult<FilterFactory> {
  return configured('trace', () => {
    const c = optionalRecord('', raw);
    onlyKeys('', c, ['startTraceSampled', 'keepRequestId', 'echoRequestId']);
    const cfg: TraceConfig = {
      ...(c.startTraceSampled !== undefined
        ? { startTraceSampled: optionalBoolean('startTraceSampled', c.startTraceSampled) as boolean }
        : {}),
      ...(c.keepRequestId !== undefined
        ? { keepRequestId: optionalBoolean('keepRequestId', c.keepRequestId) as boolean }
        : {}),
      ...(c.echoRequestId !== undefined
        ? { echoRequestId: optionalBoolean('echoRequestId', c.echoRequestId) as boolean }
        : {}),
    };
    return (ctx) => traceFilter(cfg, ctx);
  });
}

export const trace: FilterDefinition = { name: 'trace', configure: configureTrace };
