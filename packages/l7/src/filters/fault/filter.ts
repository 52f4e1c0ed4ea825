// Fault injection from the route rule: a delay and/or an abort, each for a percentage of
// requests (randomness injected). Flags DI (delayed) and FI (aborted).

import type { FaultPolicy } from '@weft/policy';
import { rollPercent } from '@weft/policy/runtime';
import { GRPC, localReply } from '../../http/local-reply.ts';
import type { L7Request, L7Response } from '../../http/message.ts';
import type { Filter, FilterContext, Handler } from '../types.ts';

const GRPC_CODES: Readonly<Record<string, number>> = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
};

/** A gRPC status given by name ("UNAVAILABLE") or number ("14"). */
export function grpcCode(value: string): number {
  const n = Number(value);
  if (Number.isInteger(n) && n >= 0 && n <= 16) return n;
  return GRPC_CODES[value.toUpperCase()] ?? GRPC.UNKNOWN;
}

export function faultFilter(fctx: FilterContext): Filter {
  return (next) => (req) => {
    const fault = req.ctx.route?.rule.fault;
    // no fault on the route: no extra promise on the hot path
    if (fault === undefined) return next(req);
    return inject(req, fault, next);
  };

  async function inject(req: L7Request, fault: FaultPolicy, next: Handler): Promise<L7Response> {
    if (fault.delay !== undefined && rollPercent(fault.delay.percent, fctx.random)) {
      req.ctx.flags.push('DI');
      try {
        await fctx.delay(fault.delay.delayMs, req.ctx.cancel.signal);
      } catch {
        return localReply(req, 499, 'client closed during injected delay', { flags: ['DC'] });
      }
    }
    const abort = fault.abort;
    if (abort !== undefined && rollPercent(abort.percent, fctx.random)) {
      if (req.ctx.grpc && abort.grpcStatus !== undefined) {
        return localReply(req, 200, 'fault filter abort', {
          flags: ['FI'],
          grpcStatus: grpcCode(abort.grpcStatus),
        });
      }
      return localReply(req, abort.httpStatus ?? 503, 'fault filter abort', { flags: ['FI'] });
    }
    return next(req);
  }
}
