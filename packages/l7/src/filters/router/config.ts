import { ConfigInvalid, configured, onlyKeys, optionalNumber, optionalRecord } from '../config-util.ts';
import type { ConfigResult, FilterDefinition, FilterFactory } from '../types.ts';
import { routerFilter } from './filter.ts';
import { DEFAULT_RETRY_BUDGET, type RetryBudget } from './retry.ts';

export interface RouterConfig {
  /** Streaming request bodies up to this size are buffered so they can be retried. Default 64 KiB. */
  readonly retryBufferBytes: number;
  readonly retryBudget: RetryBudget;
  /** Reset a response whose body stalls this long (stream idle timeout). Default 5 min; 0 none. */
  readonly idleTimeoutMs: number;
}

export function configureRouter(raw: unknown): ConfigResult<FilterFactory> {
  return configured('router', () => {
    const c = optionalRecord('', raw);
    onlyKeys('', c, ['retryBufferBytes', 'retryBudget', 'idleTimeoutMs']);
    const b = optionalRecord('retryBudget', c.retryBudget);
    onlyKeys('retryBudget', b, ['percent', 'minConcurrency']);
    const cfg: RouterConfig = {
      retryBufferBytes:
        optionalNumber('retryBufferBytes', c.retryBufferBytes, 0, 64 * 1024 * 1024) ?? 64 * 1024,
      retryBudget: {
        percent: optionalNumber('retryBudget.percent', b.percent, 0, 100) ?? DEFAULT_RETRY_BUDGET.percent,
        minConcurrency:
          optionalNumber('retryBudget.minConcurrency', b.minConcurrency, 0, 1e9) ??
          DEFAULT_RETRY_BUDGET.minConcurrency,
      },
      idleTimeoutMs: optionalNumber('idleTimeoutMs', c.idleTimeoutMs, 0, 86_400_000) ?? 300_000,
    };
    if (!Number.isInteger(cfg.retryBufferBytes))
      throw new ConfigInvalid('retryBufferBytes', 'must be an integer');
    return (ctx) => routerFilter(cfg, ctx);
  });
}

export const router: FilterDefinition = { name: 'router', terminal: true, configure: configureRouter };
