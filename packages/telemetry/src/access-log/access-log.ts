// Access logs: one line per TCP connection or HTTP request, key=value (default) or JSON.
// Field order is fixed so lines diff and grep well; absent values are '-' (kv) or left out
// (JSON). Every string may come from a peer (path, authority, user agent, request id), so all
// go through the kv escaper or JSON.stringify and are length-capped.

import { ABSENT, kvString, truncate } from '../format/kv.ts';
import type { ConnectionSecurityPolicy, Reporter } from '../mesh.ts';
import type { LineSink } from '../sink.ts';
import { formatResponseFlags, type ResponseFlag } from './response-flags.ts';

export type AccessLogFormat = 'kv' | 'json';

/** The authorization outcome, as @weft/policy's evaluators decide it. */
export interface RbacOutcome {
  readonly decision: 'allow' | 'deny';
  /** The policy that decided, e.g. "ns/name" (absent for the default decision). */
  readonly policy?: string | undefined;
}

/** Fields common to TCP and HTTP entries. Identities are SPIFFE IDs as presented. */
export interface AccessLogBase {
  /** Start, epoch milliseconds. */
  readonly startTime: number;
  readonly durationMs: number;
  readonly reporter?: Reporter | undefined;
  /** Downstream peer address "ip:port". */
  readonly sourceAddress?: string | undefined;
  readonly sourcePrincipal?: string | undefined;
  readonly sourceWorkload?: string | undefined;
  readonly destinationPrincipal?: string | undefined;
  readonly destinationWorkload?: string | undefined;
  /** Destination service hostname. */
  readonly destinationService?: string | undefined;
  /** The endpoint actually connected, "ip:port". */
  readonly upstreamHost?: string | undefined;
  readonly routeName?: string | undefined;
  readonly responseFlags?: readonly ResponseFlag[] | undefined;
  /** Bytes received from downstream (request side). */
  readonly bytesReceived: number;
  /** Bytes sent to downstream (response side). */
  readonly bytesSent: number;
  readonly rbac?: RbacOutcome | undefined;
  readonly connectionSecurity?: ConnectionSecurityPolicy | undefined;
  readonly traceId?: string | undefined;
  readonly requestId?: string | undefined;
  /**
   * Why the connection or request ended as it did, in the component's own words: a refusal
   * reason (`denied`, `strict_mtls`, `upstream_connect_failed`) or how a connection ended
   * (`reset_by_peer`). Logged escaped like every other value; keep it short and free of secrets.
   */
  readonly reason?: string | undefined;
}

export interface TcpAccessLogEntry extends AccessLogBase {
  /** Default 'tcp'. */
  readonly protocol?: string | undefined;
}

export interface HttpAccessLogEntry extends AccessLogBase {
  /** 'HTTP/1.1', 'HTTP/2', ... */
  readonly protocol: string;
  readonly method: string;
  /** The path as received (logged escaped, never interpreted). */
  readonly path: string;
  readonly authority?: string | undefined;
  /** 0 when no response was sent (Envoy's convention). */
  readonly status: number;
  readonly grpcStatus?: number | undefined;
  readonly userAgent?: string | undefined;
}

export interface AccessLogOptions {
  readonly sink: LineSink;
  /** Default 'kv'. */
  readonly format?: AccessLogFormat;
  /** Longest string value written (UTF-16 units); longer ones are cut with "...". Default 2048. */
  readonly maxValueLength?: number;
}

export interface AccessLogger {
  tcp(entry: TcpAccessLogEntry): void;
  http(entry: HttpAccessLogEntry): void;
}

/** Builds an access logger writing one line per entry to the sink. */
export function createAccessLogger(options: AccessLogOptions): AccessLogger {
  const { sink } = options;
  const max = options.maxValueLength ?? 2048;
  // a logging failure (a throwing sink) must never reach the request path
  const write = (line: string): void => {
    try {
      sink.write(line);
    } catch {
      // dropped
    }
  };
  if (options.format === 'json') {
    return {
      tcp: (e) => write(`${JSON.stringify(tcpRecord(e, max))}\n`),
      http: (e) => write(`${JSON.stringify(httpRecord(e, max))}\n`),
    };
  }
  return {
    tcp: (e) => write(`${formatTcpKv(e, max)}\n`),
    http: (e) => write(`${formatHttpKv(e, max)}\n`),
  };
}

/** One key=value line (without '\n') for a TCP connection. */
export function formatTcpKv(e: TcpAccessLogEntry, max = 2048): string {
  return (
    `kind=tcp start_time=${isoTime(e.startTime)} duration_ms=${num(e.durationMs)}` +
    ` protocol=${str(e.protocol ?? 'tcp', max)}${baseKv(e, max)}`
  );
}

/** One key=value line (without '\n') for an HTTP request. */
export function formatHttpKv(e: HttpAccessLogEntry, max = 2048): string {
  return (
    `kind=http start_time=${isoTime(e.startTime)} duration_ms=${num(e.durationMs)}` +
    ` protocol=${str(e.protocol, max)} method=${str(e.method, max)} path=${str(e.path, max)}` +
    ` authority=${str(e.authority, max)} status=${num(e.status)}` +
    ` grpc_status=${e.grpcStatus === undefined ? ABSENT : num(e.grpcStatus)}` +
    ` user_agent=${str(e.userAgent, max)}${baseKv(e, max)}`
  );
}

function baseKv(e: AccessLogBase, max: number): string {
  return (
    ` response_flags=${formatResponseFlags(e.responseFlags)}` +
    ` bytes_received=${num(e.bytesReceived)} bytes_sent=${num(e.bytesSent)}` +
    ` upstream_host=${str(e.upstreamHost, max)} route=${str(e.routeName, max)}` +
    ` reporter=${str(e.reporter, max)} src_addr=${str(e.sourceAddress, max)}` +
    ` src_principal=${str(e.sourcePrincipal, max)} src_workload=${str(e.sourceWorkload, max)}` +
    ` dst_principal=${str(e.destinationPrincipal, max)} dst_workload=${str(e.destinationWorkload, max)}` +
    ` dst_service=${str(e.destinationService, max)}` +
    ` rbac=${e.rbac === undefined ? ABSENT : e.rbac.decision} rbac_policy=${str(e.rbac?.policy, max)}` +
    ` security=${str(e.connectionSecurity, max)}` +
    ` trace_id=${str(e.traceId, max)} request_id=${str(e.requestId, max)}` +
    ` reason=${str(e.reason, max)}`
  );
}

function str(v: string | undefined, max: number): string {
  return v === undefined ? ABSENT : kvString(truncate(v, max));
}

function num(n: number): string {
  return Number.isFinite(n) ? String(Math.round(n * 1000) / 1000) : ABSENT;
}

function isoTime(ms: number): string {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? ABSENT : d.toISOString();
}

type JsonRecord = Record<string, string | number>;

function put(r: JsonRecord, key: string, v: string | undefined, max: number): void {
  if (v !== undefined) r[key] = truncate(v, max);
}

function putNum(r: JsonRecord, key: string, v: number | undefined): void {
  if (v !== undefined && Number.isFinite(v)) r[key] = Math.round(v * 1000) / 1000;
}

function tcpRecord(e: TcpAccessLogEntry, max: number): JsonRecord {
  const r: JsonRecord = { kind: 'tcp', start_time: isoTime(e.startTime) };
  putNum(r, 'duration_ms', e.durationMs);
  put(r, 'protocol', e.protocol ?? 'tcp', max);
  baseJson(r, e, max);
  return r;
}

function httpRecord(e: HttpAccessLogEntry, max: number): JsonRecord {
  const r: JsonRecord = { kind: 'http', start_time: isoTime(e.startTime) };
  putNum(r, 'duration_ms', e.durationMs);
  put(r, 'protocol', e.protocol, max);
  put(r, 'method', e.method, max);
  put(r, 'path', e.path, max);
  put(r, 'authority', e.authority, max);
  putNum(r, 'status', e.status);
  putNum(r, 'grpc_status', e.grpcStatus);
  put(r, 'user_agent', e.userAgent, max);
  baseJson(r, e, max);
  return r;
}

function baseJson(r: JsonRecord, e: AccessLogBase, max: number): void {
  r.response_flags = formatResponseFlags(e.responseFlags);
  putNum(r, 'bytes_received', e.bytesReceived);
  putNum(r, 'bytes_sent', e.bytesSent);
  put(r, 'upstream_host', e.upstreamHost, max);
  put(r, 'route', e.routeName, max);
  put(r, 'reporter', e.reporter, max);
  put(r, 'src_addr', e.sourceAddress, max);
  put(r, 'src_principal', e.sourcePrincipal, max);
  put(r, 'src_workload', e.sourceWorkload, max);
  put(r, 'dst_principal', e.destinationPrincipal, max);
  put(r, 'dst_workload', e.destinationWorkload, max);
  put(r, 'dst_service', e.destinationService, max);
  put(r, 'rbac', e.rbac?.decision, max);
  put(r, 'rbac_policy', e.rbac?.policy, max);
  put(r, 'security', e.connectionSecurity, max);
  put(r, 'trace_id', e.traceId, max);
  put(r, 'request_id', e.requestId, max);
  put(r, 'reason', e.reason, max);
}
