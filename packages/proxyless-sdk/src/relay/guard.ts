// Shapes that crash @grpc/grpc-js-xds 1.14.1 instead of being NACKed (see the package README):
// the relay rewrites them, in state-of-the-world responses only, so that grpc-js-xds rejects the
// resource with a NACK weftd sees, and the process lives. Everything else passes byte for byte.
//  1. A RouteConfiguration route with `non_forwarding_action`: throws in a nextTick callback when
//     a client watches it. Rewritten to a `redirect` action (unsupported: NACK). Server Listeners
//     carry their routes inline (the contract), so no RDS route needs that action.
//  2. A Listener update that adds or removes `default_filter_chain` compared with the version in
//     use throws in the server's listener comparison. Rewritten with a listener filter (NACK).
import { ENVOY_TYPE_URL } from '@weft/xds-protocol';
import { DiscoveryResponse, Listener, Route, RouteConfiguration } from '@weft/xds-protocol/envoy';

export interface GuardFinding {
  readonly typeUrl: string;
  readonly name: string;
  readonly reason: string;
}

export interface GuardState {
  /** Listener name -> whether the last forwarded version had a default_filter_chain. */
  readonly defaultFilterChain: Map<string, boolean>;
}

export const newGuardState = (): GuardState => ({ defaultFilterChain: new Map() });

/**
 * The rewritten message (or the same bytes when nothing was found) and what was found. Never
 * throws: a message it cannot handle passes unchanged.
 */
export function guardResponse(
  bytes: Uint8Array,
  state: GuardState,
): { bytes: Uint8Array; findings: GuardFinding[] } {
  try {
    return guard(bytes, state);
  } catch {
    return { bytes, findings: [] };
  }
}

function guard(bytes: Uint8Array, state: GuardState): { bytes: Uint8Array; findings: GuardFinding[] } {
  let res: DiscoveryResponse;
  try {
    res = DiscoveryResponse.decode(bytes);
  } catch {
    return { bytes, findings: [] }; // grpc-js-xds rejects it on its own
  }
  const findings: GuardFinding[] = [];
  if (res.typeUrl === ENVOY_TYPE_URL.routeConfiguration) {
    for (const any of res.resources) {
      if (any.typeUrl !== ENVOY_TYPE_URL.routeConfiguration) continue;
      let rc: RouteConfiguration;
      try {
        rc = RouteConfiguration.decode(any.value);
      } catch {
        continue;
      }
      let changed = false;
      for (const vh of rc.virtualHosts) {
        vh.routes = vh.routes.map((route) => {
          if (route.nonForwardingAction === undefined) return route;
          changed = true;
          return Route.fromPartial({
            name: route.name,
            ...(route.match !== undefined ? { match: route.match } : {}),
            redirect: { hostRedirect: 'weft.invalid' },
          });
        });
      }
      if (changed) {
        any.value = RouteConfiguration.encode(rc).finish();
        findings.push({
          typeUrl: res.typeUrl,
          name: rc.name,
          reason:
            'non_forwarding_action route in a RouteConfiguration (crashes grpc-js-xds clients); sent as an unsupported action so it is NACKed',
        });
      }
    }
  } else if (res.typeUrl === ENVOY_TYPE_URL.listener) {
    for (const any of res.resources) {
      if (any.typeUrl !== ENVOY_TYPE_URL.listener) continue;
      let l: Listener;
      try {
        l = Listener.decode(any.value);
      } catch {
        continue;
      }
      if (l.apiListener !== undefined) continue;
      const has = l.defaultFilterChain !== undefined;
      const before = state.defaultFilterChain.get(l.name);
      if (before === undefined || before === has) {
        state.defaultFilterChain.set(l.name, has);
        continue;
      }
      any.value = Listener.encode(
        Listener.fromPartial({ ...l, listenerFilters: [{ name: 'weft.proxyless.guard' }] }),
      ).finish();
      findings.push({
        typeUrl: res.typeUrl,
        name: l.name,
        reason: `Listener update ${has ? 'adds' : 'removes'} default_filter_chain (crashes grpc-js-xds servers); sent with a listener filter so it is NACKed`,
      });
    }
  }
  if (findings.length === 0) return { bytes, findings };
  return { bytes: DiscoveryResponse.encode(res).finish(), findings };
}
