// The CNI plugin -> node agent API: JSON over HTTP on the agent's unix socket. The plugin asks
// to enroll a pod on ADD, to forget it on DEL and to verify it on CHECK. Bodies are decoded
// strictly on both sides; a bad body is refused with a reason, never a crash.

import { netnsPathError } from '../protocol/netns.ts';

export const DEFAULT_AGENT_SOCKET = '/var/run/weft/cni.sock';
export const API_PATHS = { add: '/v1/cni/add', del: '/v1/cni/del', check: '/v1/cni/check' } as const;
/** Largest request or response body either side reads. */
export const MAX_BODY_BYTES = 64 * 1024;

export interface PodIp {
  /** As the previous plugin reported it: an address with prefix length (`10.22.0.5/16`). */
  readonly address: string;
  /** The pod's default gateway on that network: the node as the pod sees it. */
  readonly gateway?: string;
}

export interface AddRequest {
  readonly namespace: string;
  readonly name: string;
  readonly uid?: string;
  readonly containerId: string;
  readonly netns: string;
  readonly ifname: string;
  readonly ips: readonly PodIp[];
}

export interface DelRequest {
  readonly containerId: string;
  readonly namespace?: string;
  readonly name?: string;
  readonly netns?: string;
}

export interface CheckRequest {
  readonly namespace: string;
  readonly name: string;
  readonly containerId: string;
  readonly netns: string;
}

/** 200 answers. Errors are `{ error, retryable? }` with a 4xx/5xx status. */
export type AddResponse =
  | { readonly result: 'enrolled'; readonly mode: 'ambient' | 'sidecar' }
  | { readonly result: 'not-in-mesh'; readonly reason: string };
export type DelResponse = { readonly result: 'removed' } | { readonly result: 'unknown' };
export type CheckResponse = { readonly result: 'ok' } | { readonly result: 'not-in-mesh' };
export interface ErrorResponse {
  readonly error: string;
  /** The plugin maps retryable errors to CNI code 11 (try again later). */
  readonly retryable?: boolean;
}

export type Decoded<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: string };

const LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const UID = /^[A-Za-z0-9-]{1,128}$/;
const CONTAINER_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,255}$/;
const IFNAME = /^[^\s/:]{1,15}$/;

export const isNamespace = (s: unknown): s is string => typeof s === 'string' && LABEL.test(s);
export const isPodName = (s: unknown): s is string => typeof s === 'string' && SUBDOMAIN.test(s);
export const isUid = (s: unknown): s is string => typeof s === 'string' && UID.test(s);
export const isContainerId = (s: unknown): s is string => typeof s === 'string' && CONTAINER_ID.test(s);
export const isIfname = (s: unknown): s is string =>
  typeof s === 'string' && IFNAME.test(s) && s !== '.' && s !== '..';

function parseObject(text: string): Decoded<Record<string, unknown>> {
  if (text.length > MAX_BODY_BYTES) return { ok: false, error: `body larger than ${MAX_BODY_BYTES}` };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { ok: false, error: 'body is not valid JSON' };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return { ok: false, error: 'body is not a JSON object' };
  }
  return { ok: true, value: raw as Record<string, unknown> };
}

function unknownKey(raw: Record<string, unknown>, known: readonly string[]): string | undefined {
  const bad = Object.keys(raw).find((k) => !known.includes(k));
  return bad === undefined ? undefined : `unknown field ${JSON.stringify(bad.slice(0, 64))}`;
}

function netnsOk(value: unknown): string | undefined {
  if (typeof value !== 'string') return 'netns must be a string';
  return netnsPathError(value);
}

export function decodeAddRequest(text: string): Decoded<AddRequest> {
  const parsed = parseObject(text);
  if (!parsed.ok) return parsed;
  const r = parsed.value;
  const bad =
    unknownKey(r, ['namespace', 'name', 'uid', 'containerId', 'netns', 'ifname', 'ips']) ??
    (!isNamespace(r.namespace) ? 'namespace must be a DNS label' : undefined) ??
    (!isPodName(r.name) ? 'name must be a DNS subdomain' : undefined) ??
    (r.uid !== undefined && !isUid(r.uid) ? 'uid must be a UID string' : undefined) ??
    (!isContainerId(r.containerId) ? 'containerId must be a container ID' : undefined) ??
    netnsOk(r.netns) ??
    (!isIfname(r.ifname) ? 'ifname must be an interface name' : undefined);
  if (bad) return { ok: false, error: bad };
  const ips = decodeIps(r.ips);
  if (typeof ips === 'string') return { ok: false, error: ips };
  return {
    ok: true,
    value: {
      namespace: r.namespace as string,
      name: r.name as string,
      ...(r.uid !== undefined ? { uid: r.uid as string } : {}),
      containerId: r.containerId as string,
      netns: r.netns as string,
      ifname: r.ifname as string,
      ips,
    },
  };
}

function decodeIps(raw: unknown): readonly PodIp[] | string {
  if (!Array.isArray(raw)) return 'ips must be an array';
  if (raw.length > 16) return 'ips has more than 16 entries';
  const out: PodIp[] = [];
  for (const [i, ip] of raw.entries()) {
    if (typeof ip !== 'object' || ip === null || Array.isArray(ip)) return `ips[${i}] must be an object`;
    const o = ip as Record<string, unknown>;
    const extra = unknownKey(o, ['address', 'gateway']);
    if (extra) return `ips[${i}]: ${extra}`;
    if (typeof o.address !== 'string' || o.address.length > 64) return `ips[${i}].address must be a string`;
    if (o.gateway !== undefined && (typeof o.gateway !== 'string' || o.gateway.length > 64)) {
      return `ips[${i}].gateway must be a string`;
    }
    out.push(
      o.gateway === undefined ? { address: o.address } : { address: o.address, gateway: o.gateway as string },
    );
  }
  return out;
}

export function decodeDelRequest(text: string): Decoded<DelRequest> {
  const parsed = parseObject(text);
  if (!parsed.ok) return parsed;
  const r = parsed.value;
  const bad =
    unknownKey(r, ['containerId', 'namespace', 'name', 'netns']) ??
    (!isContainerId(r.containerId) ? 'containerId must be a container ID' : undefined) ??
    (r.namespace !== undefined && !isNamespace(r.namespace) ? 'namespace must be a DNS label' : undefined) ??
    (r.name !== undefined && !isPodName(r.name) ? 'name must be a DNS subdomain' : undefined) ??
    (r.netns !== undefined ? netnsOk(r.netns) : undefined);
  if (bad) return { ok: false, error: bad };
  return {
    ok: true,
    value: {
      containerId: r.containerId as string,
      ...(r.namespace !== undefined ? { namespace: r.namespace as string } : {}),
      ...(r.name !== undefined ? { name: r.name as string } : {}),
      ...(r.netns !== undefined ? { netns: r.netns as string } : {}),
    },
  };
}

export function decodeCheckRequest(text: string): Decoded<CheckRequest> {
  const parsed = parseObject(text);
  if (!parsed.ok) return parsed;
  const r = parsed.value;
  const bad =
    unknownKey(r, ['containerId', 'namespace', 'name', 'netns']) ??
    (!isContainerId(r.containerId) ? 'containerId must be a container ID' : undefined) ??
    (!isNamespace(r.namespace) ? 'namespace must be a DNS label' : undefined) ??
    (!isPodName(r.name) ? 'name must be a DNS subdomain' : undefined) ??
    netnsOk(r.netns);
  if (bad) return { ok: false, error: bad };
  return {
    ok: true,
    value: {
      containerId: r.containerId as string,
      namespace: r.namespace as string,
      name: r.name as string,
      netns: r.netns as string,
    },
  };
}

/** The plugin's reading of an agent answer: a 200 result, or an error (retryable or not). */
export type AgentAnswer<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: string; readonly retryable: boolean };

export function decodeAnswer<T extends { readonly result: string }>(
  status: number,
  text: string,
  results: readonly T['result'][],
): AgentAnswer<T> {
  const parsed = parseObject(text);
  if (!parsed.ok)
    return { ok: false, error: `node agent answered ${status} with ${parsed.error}`, retryable: false };
  const r = parsed.value;
  if (status === 200) {
    if (typeof r.result === 'string' && (results as readonly string[]).includes(r.result)) {
      return { ok: true, value: r as unknown as T };
    }
    return {
      ok: false,
      error: `node agent answered an unknown result ${JSON.stringify(r.result)}`,
      retryable: false,
    };
  }
  const error = typeof r.error === 'string' ? r.error.slice(0, 2048) : `node agent answered ${status}`;
  return { ok: false, error, retryable: r.retryable === true || status === 503 };
}
