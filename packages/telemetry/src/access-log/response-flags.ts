// Response flags: the short codes Envoy writes in %RESPONSE_FLAGS% (and Istio copies into the
// response_flags metric label), so operators read Weft's logs the way they read Envoy's.
// 'RBAC' is Weft's own: Envoy reports an RBAC denial only in its response-code details, but a
// mesh operator looking at a 403 or a reset wants to see in one field that policy did it.

export const RESPONSE_FLAGS = {
  UH: 'no healthy upstream host',
  UF: 'upstream connection failure',
  UO: 'upstream overflow (circuit breaking)',
  NR: 'no route configured',
  URX: 'upstream retry limit (HTTP) or connect attempt limit (TCP) reached',
  NC: 'upstream cluster not found',
  DT: 'request or connection exceeded max duration',
  DC: 'downstream connection termination',
  LH: 'local service failed health check',
  UT: 'upstream request timeout',
  LR: 'connection local reset',
  UR: 'upstream remote reset',
  UC: 'upstream connection termination',
  DI: 'request delayed by fault injection',
  FI: 'request aborted by fault injection',
  RL: 'rate limited locally',
  UAEX: 'denied by the external authorization service',
  IH: 'invalid request header value (strict check)',
  SI: 'stream idle timeout',
  DPE: 'downstream protocol error',
  UPE: 'upstream protocol error',
  UMSDR: 'upstream max stream duration reached',
  OM: 'overload manager rejected the request',
  DF: 'DNS resolution failed',
  RBAC: 'denied by authorization policy',
} as const;

export type ResponseFlag = keyof typeof RESPONSE_FLAGS;

/** '-' for none, otherwise the codes joined by ',' (Envoy's format). */
export function formatResponseFlags(flags: readonly ResponseFlag[] | undefined): string {
  if (flags === undefined || flags.length === 0) return '-';
  if (flags.length === 1) return flags[0] as string;
  return flags.join(',');
}

export function isResponseFlag(value: string): value is ResponseFlag {
  return Object.hasOwn(RESPONSE_FLAGS, value);
}
