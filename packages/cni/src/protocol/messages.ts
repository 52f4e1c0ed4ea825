// The node agent <-> ztunnel protocol: newline-delimited JSON over a unix socket. The agent is
// the server; ztunnel connects (like Istio's ZDS). On every new connection the agent replays
// each enrolled ambient pod as `add`, then sends `snapshot-done`; after that it sends `add` and
// `remove` as pods come and go. ztunnel answers every message with an `ack` carrying the same
// id, with `error` when it could not act on it. Decoding is strict: unknown types, unknown fields
// and oversized lines are refused with a reason, so both sides notice a version skew at once.

import { netnsPathError } from './netns.ts';

/** The longest line (in UTF-16 code units, which bounds the UTF-8 bytes / 3) either side accepts. */
export const MAX_LINE_LENGTH = 64 * 1024;
/** The default socket path the agent serves ztunnel on. */
export const DEFAULT_ZTUNNEL_SOCKET = '/var/run/weft/ztunnel.sock';

export interface PodRef {
  readonly namespace: string;
  readonly name: string;
  readonly uid?: string;
}

/** Enroll a pod: ztunnel opens its 15001/15006/15008 listeners inside `netns`. */
export interface AddMessage {
  readonly type: 'add';
  readonly id: number;
  readonly pod: PodRef;
  readonly netns: string;
}

/** Forget a pod: ztunnel closes its listeners in the pod's netns. */
export interface RemoveMessage {
  readonly type: 'remove';
  readonly id: number;
  readonly pod: PodRef;
}

/** Every enrolled pod has been sent since the connection opened; ztunnel may drop the others. */
export interface SnapshotDoneMessage {
  readonly type: 'snapshot-done';
  readonly id: number;
}

/** ztunnel's answer to one agent message; `error` set means it failed to act on it. */
export interface AckMessage {
  readonly type: 'ack';
  readonly id: number;
  readonly error?: string;
}

export type AgentMessage = AddMessage | RemoveMessage | SnapshotDoneMessage;
export type ZtunnelMessage = AckMessage;
export type ProtocolMessage = AgentMessage | ZtunnelMessage;

export type DecodeResult<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: string; readonly id?: number };

/** One JSON line, newline included. */
export function encodeMessage(message: ProtocolMessage): string {
  return `${JSON.stringify(message)}\n`;
}

/** Decodes one line (with or without its trailing newline) into any protocol message. */
export function decodeLine(line: string): DecodeResult<ProtocolMessage> {
  const text = line.endsWith('\n') ? line.slice(0, line.endsWith('\r\n') ? -2 : -1) : line;
  if (text.length > MAX_LINE_LENGTH) return { ok: false, error: `line longer than ${MAX_LINE_LENGTH}` };
  if (text.trim().length === 0) return { ok: false, error: 'empty line' };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { ok: false, error: 'line is not valid JSON' };
  }
  if (!isRecord(raw)) return { ok: false, error: 'message is not a JSON object' };
  const id = raw.id;
  const idOk = typeof id === 'number' && Number.isSafeInteger(id) && id >= 0;
  const fail = (error: string): DecodeResult<ProtocolMessage> =>
    idOk ? { ok: false, error, id } : { ok: false, error };
  if (!idOk) return fail('id must be a non-negative integer');
  switch (raw.type) {
    case 'add': {
      const extra = unknownField(raw, ['type', 'id', 'pod', 'netns']);
      if (extra) return fail(extra);
      const pod = decodePod(raw.pod);
      if (typeof pod === 'string') return fail(pod);
      if (typeof raw.netns !== 'string') return fail('netns must be a string');
      const bad = netnsPathError(raw.netns);
      if (bad) return fail(bad);
      return { ok: true, value: { type: 'add', id, pod, netns: raw.netns } };
    }
    case 'remove': {
      const extra = unknownField(raw, ['type', 'id', 'pod']);
      if (extra) return fail(extra);
      const pod = decodePod(raw.pod);
      if (typeof pod === 'string') return fail(pod);
      return { ok: true, value: { type: 'remove', id, pod } };
    }
    case 'snapshot-done': {
      const extra = unknownField(raw, ['type', 'id']);
      if (extra) return fail(extra);
      return { ok: true, value: { type: 'snapshot-done', id } };
    }
    case 'ack': {
      const extra = unknownField(raw, ['type', 'id', 'error']);
      if (extra) return fail(extra);
      if (raw.error === undefined) return { ok: true, value: { type: 'ack', id } };
      if (typeof raw.error !== 'string') return fail('error must be a string');
      if (raw.error.length > 4096) return fail('error longer than 4096');
      return { ok: true, value: { type: 'ack', id, error: raw.error } };
    }
    default:
      return fail(
        typeof raw.type === 'string'
          ? `unknown message type ${JSON.stringify(raw.type.slice(0, 64))}`
          : 'type must be a string',
      );
  }
}

/** What ztunnel reads: only agent messages are accepted. */
export function decodeAgentMessage(line: string): DecodeResult<AgentMessage> {
  const result = decodeLine(line);
  if (!result.ok || result.value.type !== 'ack') return result as DecodeResult<AgentMessage>;
  return { ok: false, error: 'ack is not sent by the node agent', id: result.value.id };
}

/** What the agent reads: only acks are accepted. */
export function decodeZtunnelMessage(line: string): DecodeResult<ZtunnelMessage> {
  const result = decodeLine(line);
  if (!result.ok || result.value.type === 'ack') return result as DecodeResult<ZtunnelMessage>;
  return { ok: false, error: `${result.value.type} is not sent by ztunnel`, id: result.value.id };
}

// Kubernetes names: a namespace is a DNS label, a pod name a DNS subdomain.
const LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const UID = /^[A-Za-z0-9-]{1,128}$/;

function decodePod(raw: unknown): PodRef | string {
  if (!isRecord(raw)) return 'pod must be an object';
  const extra = unknownField(raw, ['namespace', 'name', 'uid'], 'pod.');
  if (extra) return extra;
  if (typeof raw.namespace !== 'string' || !LABEL.test(raw.namespace)) {
    return 'pod.namespace must be a DNS label';
  }
  if (typeof raw.name !== 'string' || !SUBDOMAIN.test(raw.name)) return 'pod.name must be a DNS subdomain';
  if (raw.uid === undefined) return { namespace: raw.namespace, name: raw.name };
  if (typeof raw.uid !== 'string' || !UID.test(raw.uid)) return 'pod.uid must be a UID string';
  return { namespace: raw.namespace, name: raw.name, uid: raw.uid };
}

function unknownField(
  raw: Record<string, unknown>,
  known: readonly string[],
  prefix = '',
): string | undefined {
  for (const key of Object.keys(raw)) {
    if (!known.includes(key)) return `unknown field ${JSON.stringify(prefix + key.slice(0, 64))}`;
  }
  return undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
