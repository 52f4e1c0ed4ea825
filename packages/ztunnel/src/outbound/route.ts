// The outbound decision every entry point runs (SOCKS5, the capture listener on 15001, local
// mode's fixed forwards): plan the connection with proxy-core's `planOutbound`, refuse a deny
// plan, open the upstream. Entry points differ only in how they learn the source and the target
// and in how they answer a refusal (a SOCKS5 reply, or a reset).
import type { Duplex } from 'node:stream';
import type { ProxyState } from '@weft/proxy-core';
import {
  type EndpointPicker,
  type OutboundPlan,
  type OutboundTarget,
  planOutbound,
  type ReplyCode,
} from '@weft/proxy-core';
import { ZTUNNEL_MODE } from '../mode.ts';
import type { AppPeer, OutboundExecutor } from './execute.ts';

export interface OutboundRouteOptions {
  readonly nodeName: string;
  readonly state: () => ProxyState;
  readonly executor: OutboundExecutor;
  readonly pick: EndpointPicker;
  readonly hbonePort?: number;
}

export type OutboundRouteResult =
  | {
      readonly ok: true;
      readonly plan: Exclude<OutboundPlan, { kind: 'deny' }>;
      readonly upstream: Duplex;
    }
  /** Refused (counted and logged already); `reply` is the SOCKS5 answer. */
  | { readonly ok: false; readonly reply: ReplyCode };

/** Decides where `peer`'s connection to `target` goes and opens its upstream. */
export type OutboundRoute = (peer: AppPeer, target: OutboundTarget) => Promise<OutboundRouteResult>;

export function createOutboundRoute(options: OutboundRouteOptions): OutboundRoute {
  return async (peer, target) => {
    const plan = planOutbound(
      options.state(),
      { sourceIp: peer.ip, target },
      {
        nodeName: options.nodeName,
        mode: ZTUNNEL_MODE,
        pick: options.pick,
        ...(options.hbonePort ? { hbonePort: options.hbonePort } : {}),
      },
    );
    if (plan.kind === 'deny') return { ok: false, reply: options.executor.refuse(plan, peer) };
    const result = await options.executor.openUpstream(plan, peer);
    if (!result.ok) return { ok: false, reply: result.reply };
    return { ok: true, plan, upstream: result.upstream };
  };
}
