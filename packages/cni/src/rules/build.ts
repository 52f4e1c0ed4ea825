// The rules themselves, as pure data: one RuleSet per mode and address family. Every rule is
// written in the canonical form iptables-save prints it back, so the agent can compare what a
// netns holds with what it should hold line by line.

import {
  CHAINS,
  HBONE_PORT,
  INBOUND_CAPTURE_PORT,
  OUTBOUND_CAPTURE_PORT,
  PROXY_MARK,
  PROXY_MARK_MASK,
  PROXY_UID,
  SIDECAR_INBOUND_SOURCE,
  SIDECAR_OWN_PORTS,
} from './constants.ts';
import type { Family, RuleSpec } from './spec.ts';

export type CaptureMode = 'ambient' | 'sidecar';
export type TableName = 'nat' | 'mangle';

export interface TableRules {
  readonly table: TableName;
  /** Chains we create (all named WEFT_*). */
  readonly chains: readonly string[];
  /** `-A CHAIN ...` lines, in order: our chains' rules, then the jumps from built-in chains. */
  readonly rules: readonly string[];
}

export interface RuleSet {
  readonly mode: CaptureMode;
  readonly family: Family;
  readonly tables: readonly TableRules[];
}

const mark = `-m mark --mark 0x${PROXY_MARK.toString(16)}/0x${PROXY_MARK_MASK.toString(16)}`;
const host = (family: Family, ip: string) => `${ip}/${family === 4 ? 32 : 128}`;
const loopback = (family: Family) => host(family, family === 4 ? '127.0.0.1' : '::1');
const dport = (port: number) => `-p tcp -m tcp --dport ${port}`;

/** Redirect targets and the jumps into our chains; identical for both modes. */
function common(): { head: string[]; tail: string[] } {
  return {
    head: [],
    tail: [
      `-A ${CHAINS.inRedirect} -p tcp -j REDIRECT --to-ports ${INBOUND_CAPTURE_PORT}`,
      `-A ${CHAINS.redirect} -p tcp -j REDIRECT --to-ports ${OUTBOUND_CAPTURE_PORT}`,
      `-A PREROUTING -p tcp -j ${CHAINS.inbound}`,
      `-A OUTPUT -p tcp -j ${CHAINS.outbound}`,
    ],
  };
}

function inboundExclusions(spec: RuleSpec, family: Family): string[] {
  return [
    ...spec.excludeInboundPorts.map((p) => `-A ${CHAINS.inbound} ${dport(p)} -j RETURN`),
    // Node-to-pod traffic (kubelet probes) reaches the app as sent, so probes pass under STRICT.
    ...spec.probeSources[family].map((ip) => `-A ${CHAINS.inbound} -s ${host(family, ip)} -j RETURN`),
  ];
}

function outboundExclusions(spec: RuleSpec): string[] {
  return spec.excludeOutboundPorts.map((p) => `-A ${CHAINS.outbound} ${dport(p)} -j RETURN`);
}

const NAT_CHAINS = [CHAINS.inbound, CHAINS.inRedirect, CHAINS.outbound, CHAINS.redirect];

/**
 * Ambient, in the pod netns: ztunnel listens inside the netns on 15001 (outbound), 15006
 * (inbound plaintext) and 15008 (HBONE), with SO_MARK 0x539 on its sockets.
 */
export function ambientRules(spec: RuleSpec, family: Family): RuleSet {
  const { tail } = common();
  const rules = [
    // ztunnel's own sockets carry the mark: never captured, so nothing loops.
    `-A ${CHAINS.inbound} ${mark} -j RETURN`,
    // HBONE from other ztunnels goes to ztunnel's 15008 listener as addressed.
    `-A ${CHAINS.inbound} ${dport(HBONE_PORT)} -j RETURN`,
    ...inboundExclusions(spec, family),
    `-A ${CHAINS.inbound} -p tcp -j ${CHAINS.inRedirect}`,
    `-A ${CHAINS.outbound} ${mark} -j RETURN`,
    // Loopback (localhost, and the pod's own IP routed via lo) stays inside the pod.
    `-A ${CHAINS.outbound} -o lo -j RETURN`,
    `-A ${CHAINS.outbound} -d ${loopback(family)} -j RETURN`,
    ...outboundExclusions(spec),
    `-A ${CHAINS.outbound} -p tcp -j ${CHAINS.redirect}`,
    ...tail,
  ];
  return { mode: 'ambient', family, tables: [{ table: 'nat', chains: NAT_CHAINS, rules }] };
}

/**
 * Sidecar: the pod's own proxy runs as uid 1337 and listens on 15001/15006; its admin, health
 * and HBONE ports are not captured. Loopback handling follows Istio: the sidecar reaching its
 * own pod IP over lo is sent to inbound capture (so inbound policy applies); the app reaching
 * itself over lo is not captured; the sidecar's inbound passthrough source (127.0.0.6 / ::6)
 * is never captured.
 */
export function sidecarRules(spec: RuleSpec, family: Family): RuleSet {
  const { tail } = common();
  const own = `-m owner --uid-owner ${PROXY_UID}`;
  const rules = [
    ...[...SIDECAR_OWN_PORTS].sort((a, b) => a - b).map((p) => `-A ${CHAINS.inbound} ${dport(p)} -j RETURN`),
    ...inboundExclusions(spec, family),
    `-A ${CHAINS.inbound} -p tcp -j ${CHAINS.inRedirect}`,
    `-A ${CHAINS.outbound} -s ${host(family, SIDECAR_INBOUND_SOURCE[family])} -o lo -j RETURN`,
    `-A ${CHAINS.outbound} ! -d ${loopback(family)} -o lo -p tcp -m tcp ! --dport ${HBONE_PORT} ${own} -j ${CHAINS.inRedirect}`,
    `-A ${CHAINS.outbound} -o lo -m owner ! --uid-owner ${PROXY_UID} -j RETURN`,
    // The sidecar's own traffic leaves as sent: it never loops back into the sidecar.
    `-A ${CHAINS.outbound} ${own} -j RETURN`,
    `-A ${CHAINS.outbound} -d ${loopback(family)} -j RETURN`,
    ...outboundExclusions(spec),
    `-A ${CHAINS.outbound} -p tcp -j ${CHAINS.redirect}`,
    ...tail,
  ];
  return { mode: 'sidecar', family, tables: [{ table: 'nat', chains: NAT_CHAINS, rules }] };
}

export function podRules(mode: CaptureMode, spec: RuleSpec, family: Family): RuleSet {
  switch (mode) {
    case 'ambient':
      return ambientRules(spec, family);
    case 'sidecar':
      return sidecarRules(spec, family);
    default: {
      const never: never = mode;
      throw new Error(`unknown capture mode ${String(never)}`);
    }
  }
}
