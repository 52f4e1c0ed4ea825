// Validated inputs of the rule builders: which ports are excluded (from the pod's annotations)
// and which sources are node health probes. Validation returns an error value naming the
// annotation; the builders then never fail.

import { formatIp, ipToBytes } from '@weft/policy';
import { ANNOTATION_EXCLUDE_INBOUND_PORTS, ANNOTATION_EXCLUDE_OUTBOUND_PORTS } from './constants.ts';

export type Family = 4 | 6;
export const FAMILIES: readonly Family[] = [4, 6];

export interface RuleSpec {
  /** Inbound destination ports delivered to the app directly, sorted, unique. */
  readonly excludeInboundPorts: readonly number[];
  /** Outbound destination ports sent directly, sorted, unique. */
  readonly excludeOutboundPorts: readonly number[];
  /** Node addresses (kubelet probes) whose traffic to the pod is not redirected, per family. */
  readonly probeSources: { readonly 4: readonly string[]; readonly 6: readonly string[] };
}

export interface RuleSpecError {
  /** The annotation or input field at fault. */
  readonly field: string;
  readonly value: string;
  readonly reason: string;
  /** One line naming field, value and reason. */
  readonly message: string;
}

export type RuleSpecResult =
  | { readonly ok: true; readonly spec: RuleSpec }
  | { readonly ok: false; readonly error: RuleSpecError };

export interface RuleSpecInput {
  /** The pod's annotations (only the two exclude annotations are read). */
  readonly annotations?: Readonly<Record<string, string>>;
  /** Addresses of the node as the pod sees it (its default gateway, or a configured probe source). */
  readonly probeSources?: readonly string[];
}

const MAX_PORTS = 64;

export const EMPTY_SPEC: RuleSpec = {
  excludeInboundPorts: [],
  excludeOutboundPorts: [],
  probeSources: { 4: [], 6: [] },
};

export function ruleSpec(input: RuleSpecInput): RuleSpecResult {
  const annotations = input.annotations ?? {};
  const inbound = parsePortList(
    ANNOTATION_EXCLUDE_INBOUND_PORTS,
    annotations[ANNOTATION_EXCLUDE_INBOUND_PORTS],
  );
  if ('error' in inbound) return { ok: false, error: inbound.error };
  const outbound = parsePortList(
    ANNOTATION_EXCLUDE_OUTBOUND_PORTS,
    annotations[ANNOTATION_EXCLUDE_OUTBOUND_PORTS],
  );
  if ('error' in outbound) return { ok: false, error: outbound.error };
  const v4 = new Set<string>();
  const v6 = new Set<string>();
  for (const source of input.probeSources ?? []) {
    const bytes = ipToBytes(source);
    if (bytes === undefined)
      return { ok: false, error: specError('probeSources', source, 'is not an IP address') };
    // Canonical text (RFC 5952): what iptables-save prints back.
    (bytes.length === 4 ? v4 : v6).add(formatIp(bytes));
  }
  return {
    ok: true,
    spec: {
      excludeInboundPorts: inbound.ports,
      excludeOutboundPorts: outbound.ports,
      probeSources: { 4: [...v4].sort(), 6: [...v6].sort() },
    },
  };
}

/** Parses a comma list of TCP ports (`"8080, 9090"`); empty or absent means none. */
export function parsePortList(
  field: string,
  value: string | undefined,
): { readonly ports: readonly number[] } | { readonly error: RuleSpecError } {
  if (value === undefined || value.trim() === '') return { ports: [] };
  if (value.length > 1024)
    return { error: specError(field, value.slice(0, 64), 'is longer than 1024 characters') };
  const ports = new Set<number>();
  for (const part of value.split(',')) {
    const text = part.trim();
    if (!/^[0-9]{1,5}$/.test(text)) {
      return { error: specError(field, value, `has ${JSON.stringify(text)}, which is not a port number`) };
    }
    const port = Number(text);
    if (port < 1 || port > 65535) return { error: specError(field, value, `has ${port}, outside 1-65535`) };
    ports.add(port);
  }
  if (ports.size > MAX_PORTS) return { error: specError(field, value, `lists more than ${MAX_PORTS} ports`) };
  return { ports: [...ports].sort((a, b) => a - b) };
}

function specError(field: string, value: string, reason: string): RuleSpecError {
  return { field, value, reason, message: `${field} ${JSON.stringify(value)} ${reason}` };
}
