// The plugin's input: CNI_* environment and the network configuration on stdin, decoded
// strictly into values or a CNI error. Nothing here does I/O.

import { type LogLevelSetting, parseLogLevel } from '@weft/telemetry/log';
import {
  DEFAULT_AGENT_SOCKET,
  isContainerId,
  isIfname,
  isNamespace,
  isPodName,
  isUid,
  type PodIp,
} from '../api/messages.ts';
import { CNI_ERROR, type CniError, cniError } from './errors.ts';

export const SUPPORTED_VERSIONS: readonly string[] = ['0.4.0', '1.0.0'];
export const DEFAULT_EXCLUDE_NAMESPACES: readonly string[] = ['kube-system', 'weft-system'];
/** Largest stdin the plugin reads (a network config with prevResult is a few KiB). */
export const MAX_STDIN_BYTES = 256 * 1024;

export type CniCommand = 'ADD' | 'DEL' | 'CHECK' | 'VERSION';

export interface PluginConfig {
  readonly cniVersion: string;
  readonly name: string;
  readonly agentSocket: string;
  readonly excludeNamespaces: readonly string[];
  readonly logLevel: LogLevelSetting;
  readonly prevResult?: Readonly<Record<string, unknown>>;
}

export interface PluginEnv {
  readonly command: Exclude<CniCommand, 'VERSION'>;
  readonly containerId: string;
  readonly ifname: string;
  readonly netns?: string;
  readonly namespace?: string;
  readonly podName?: string;
  readonly podUid?: string;
}

export type Decoded<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: CniError };
const fail = (error: CniError) => ({ ok: false as const, error });

export function decodeCommand(value: string | undefined): Decoded<CniCommand> {
  switch (value) {
    case 'ADD':
    case 'DEL':
    case 'CHECK':
    case 'VERSION':
      return { ok: true, value };
    case undefined:
    case '':
      return fail(cniError(CNI_ERROR.invalidEnv, 'CNI_COMMAND is not set'));
    default:
      return fail(
        cniError(
          CNI_ERROR.invalidEnv,
          `CNI_COMMAND ${JSON.stringify(value.slice(0, 32))} is not ADD, DEL, CHECK or VERSION`,
        ),
      );
  }
}

/** Parses CNI_ARGS (`K=V;K=V`). */
export function parseCniArgs(value: string | undefined): Decoded<ReadonlyMap<string, string>> {
  const out = new Map<string, string>();
  if (value === undefined || value === '') return { ok: true, value: out };
  if (value.length > 4096)
    return fail(cniError(CNI_ERROR.invalidEnv, 'CNI_ARGS is longer than 4096 characters'));
  for (const pair of value.split(';')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    if (eq <= 0)
      return fail(
        cniError(CNI_ERROR.invalidEnv, `CNI_ARGS has ${JSON.stringify(pair.slice(0, 64))}, not KEY=VALUE`),
      );
    out.set(pair.slice(0, eq), pair.slice(eq + 1));
  }
  return { ok: true, value: out };
}

export function decodeEnv(
  command: Exclude<CniCommand, 'VERSION'>,
  env: Readonly<Record<string, string | undefined>>,
): Decoded<PluginEnv> {
  const invalid = (msg: string) => fail(cniError(CNI_ERROR.invalidEnv, msg));
  const containerId = env.CNI_CONTAINERID;
  if (!containerId) return invalid('CNI_CONTAINERID is not set');
  if (!isContainerId(containerId)) return invalid('CNI_CONTAINERID is not a valid container ID');
  const ifname = env.CNI_IFNAME;
  if (!ifname) return invalid('CNI_IFNAME is not set');
  if (!isIfname(ifname)) return invalid('CNI_IFNAME is not a valid interface name');
  const netns = env.CNI_NETNS || undefined;
  if (command !== 'DEL' && netns === undefined) return invalid('CNI_NETNS is not set');
  if (netns !== undefined && netns.length > 4096) return invalid('CNI_NETNS is too long');
  const args = parseCniArgs(env.CNI_ARGS);
  if (!args.ok) return args;
  const namespace = args.value.get('K8S_POD_NAMESPACE');
  const podName = args.value.get('K8S_POD_NAME');
  const podUid = args.value.get('K8S_POD_UID');
  if (command !== 'DEL' || namespace !== undefined || podName !== undefined) {
    if (namespace === undefined) return invalid('CNI_ARGS has no K8S_POD_NAMESPACE');
    if (!isNamespace(namespace)) return invalid('K8S_POD_NAMESPACE in CNI_ARGS is not a namespace name');
    if (podName === undefined) return invalid('CNI_ARGS has no K8S_POD_NAME');
    if (!isPodName(podName)) return invalid('K8S_POD_NAME in CNI_ARGS is not a pod name');
  }
  if (podUid !== undefined && podUid !== '' && !isUid(podUid))
    return invalid('K8S_POD_UID in CNI_ARGS is not a UID');
  return {
    ok: true,
    value: {
      command,
      containerId,
      ifname,
      ...(netns !== undefined ? { netns } : {}),
      ...(namespace !== undefined ? { namespace } : {}),
      ...(podName !== undefined ? { podName } : {}),
      ...(podUid ? { podUid } : {}),
    },
  };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The cniVersion to answer in, from whatever stdin holds (for error results and VERSION). */
export function answerVersion(stdin: string): string {
  try {
    const raw: unknown = JSON.parse(stdin);
    if (isRecord(raw) && typeof raw.cniVersion === 'string' && SUPPORTED_VERSIONS.includes(raw.cniVersion)) {
      return raw.cniVersion;
    }
  } catch {
    // fall through
  }
  return '1.0.0';
}

export function decodeConfig(stdin: string): Decoded<PluginConfig> {
  const invalid = (msg: string) => fail(cniError(CNI_ERROR.invalidConfig, msg));
  if (stdin.trim() === '')
    return fail(cniError(CNI_ERROR.decodeFailure, 'no network configuration on stdin'));
  let raw: unknown;
  try {
    raw = JSON.parse(stdin);
  } catch (err) {
    return fail(
      cniError(
        CNI_ERROR.decodeFailure,
        'network configuration on stdin is not valid JSON',
        (err as Error).message.slice(0, 200),
      ),
    );
  }
  if (!isRecord(raw))
    return fail(cniError(CNI_ERROR.decodeFailure, 'network configuration on stdin is not a JSON object'));
  if (typeof raw.cniVersion !== 'string') return invalid('cniVersion is missing or not a string');
  if (!SUPPORTED_VERSIONS.includes(raw.cniVersion)) {
    return fail(
      cniError(
        CNI_ERROR.incompatibleVersion,
        `cniVersion ${JSON.stringify(raw.cniVersion.slice(0, 32))} is not supported`,
        `supported: ${SUPPORTED_VERSIONS.join(', ')}`,
      ),
    );
  }
  if (raw.name !== undefined && typeof raw.name !== 'string') return invalid('name must be a string');
  let agentSocket = DEFAULT_AGENT_SOCKET;
  if (raw.agent_socket !== undefined) {
    if (
      typeof raw.agent_socket !== 'string' ||
      !raw.agent_socket.startsWith('/') ||
      raw.agent_socket.length > 107
    ) {
      return invalid('agent_socket must be an absolute path of at most 107 characters');
    }
    agentSocket = raw.agent_socket;
  }
  let excludeNamespaces = DEFAULT_EXCLUDE_NAMESPACES;
  if (raw.exclude_namespaces !== undefined) {
    const list = raw.exclude_namespaces;
    if (!Array.isArray(list) || list.length > 1024 || !list.every((n) => typeof n === 'string')) {
      return invalid('exclude_namespaces must be an array of namespace names');
    }
    excludeNamespaces = list as string[];
  }
  let logLevel: LogLevelSetting = 'warn';
  if (raw.log_level !== undefined) {
    const level = typeof raw.log_level === 'string' ? parseLogLevel(raw.log_level) : undefined;
    if (level === undefined) return invalid('log_level must be one of debug, info, warn, error, silent');
    logLevel = level;
  }
  if (raw.prevResult !== undefined && !isRecord(raw.prevResult))
    return invalid('prevResult must be an object');
  return {
    ok: true,
    value: {
      cniVersion: raw.cniVersion,
      name: typeof raw.name === 'string' ? raw.name : '',
      agentSocket,
      excludeNamespaces,
      logLevel,
      ...(raw.prevResult !== undefined ? { prevResult: raw.prevResult as Record<string, unknown> } : {}),
    },
  };
}

/** The pod's addresses and gateways from the previous plugin's result (0.4.0 and 1.0.0 shapes). */
export function podIpsFromResult(prevResult: Readonly<Record<string, unknown>>): Decoded<readonly PodIp[]> {
  const invalid = (msg: string) => fail(cniError(CNI_ERROR.invalidConfig, msg));
  const ips = prevResult.ips;
  if (ips === undefined) return { ok: true, value: [] };
  if (!Array.isArray(ips) || ips.length > 16)
    return invalid('prevResult.ips must be an array of at most 16 entries');
  const out: PodIp[] = [];
  for (const [i, ip] of ips.entries()) {
    if (!isRecord(ip) || typeof ip.address !== 'string' || ip.address.length > 64) {
      return invalid(`prevResult.ips[${i}].address must be a string`);
    }
    if (ip.gateway !== undefined && (typeof ip.gateway !== 'string' || ip.gateway.length > 64)) {
      return invalid(`prevResult.ips[${i}].gateway must be a string`);
    }
    out.push(
      typeof ip.gateway === 'string' ? { address: ip.address, gateway: ip.gateway } : { address: ip.address },
    );
  }
  return { ok: true, value: out };
}
