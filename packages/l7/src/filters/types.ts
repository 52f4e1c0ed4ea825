// The filter contract. A filter is `(next) => (req) => Promise<response>`, built once at config
// time by a factory that `config.ts` returned after validating the filter's config. Filters read
// the config in force from `req.ctx.state` and the route decision from `req.ctx.route`; they
// never reach for globals: time, randomness, delays and upstreams come from FilterContext.
import type { Clock, IdSource, Logger } from '@weft/telemetry';
import type { L7Request, L7Response } from '../http/message.ts';
import type { Delay } from '../runtime.ts';
import type { EngineTelemetry } from '../telemetry.ts';
import type { Upstreams } from '../upstream/upstreams.ts';

export type Handler = (req: L7Request) => Promise<L7Response>;
export type Filter = (next: Handler) => Handler;

/** Capabilities a filter factory may use. */
export interface FilterContext {
  readonly clock: Clock;
  /** Uniform [0, 1): weighted choice, percentages, jitter, load balancing. */
  readonly random: () => number;
  /** Waits (fault delays, retry backoff); rejects when the signal aborts. */
  readonly delay: Delay;
  readonly logger: Logger;
  readonly telemetry: EngineTelemetry;
  /** Clusters, load balancing, pool limits, outlier detection, transports. */
  readonly upstreams: Upstreams;
  /** Trace and request ids (tests inject deterministic ones). */
  readonly ids?: IdSource | undefined;
}

export type FilterFactory = (ctx: FilterContext) => Filter;

/** A config refused at build time, naming the filter and the field. */
export interface FilterConfigError {
  readonly filter: string;
  /** Dotted path inside the filter's config ("request.set[0].name"), or "" for the whole. */
  readonly field: string;
  readonly message: string;
}

export type ConfigResult<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: FilterConfigError };

export interface FilterDefinition {
  readonly name: string;
  /** A terminal filter answers without calling `next` (the router); it must be last. */
  readonly terminal?: boolean;
  /** Validates the raw config once; returns the factory or a typed error. */
  configure(config: unknown): ConfigResult<FilterFactory>;
}

/** One entry of a chain config. */
export interface FilterSpec {
  readonly name: string;
  readonly config?: unknown;
}
