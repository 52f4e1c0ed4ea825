// authorize(policies, request) -> decision, with Istio's order: DENY wins; then, if no ALLOW
// policy applies, allow; otherwise an ALLOW rule must match. AUDIT matches are reported and
// never decide. CUSTOM is not supported (the schema rejects it; an unknown action fails closed).
//
// L4 mode (what ztunnel enforces, without HTTP): an ALLOW/AUDIT rule that needs an L7 field
// never matches; a DENY rule is enforced with its L7 fields dropped, which can only widen what
// it denies. Both are stricter than the policy, never looser.
//
// Repeated request headers are ambiguous (a proxy may see "admin" and "guest" for one name).
// The ambiguity never loosens a decision: a DENY condition holds if it holds for ANY value (or
// for the values joined with ","), an ALLOW condition only if it holds for EVERY value.
import { parseSpiffeId } from '../identity.ts';
import { type Cidr, cidrContains, type IpBytes, parseCidr, parseIp } from '../net/ip.ts';
import { type NormalizePathOptions, normalizeHost, normalizePath } from '../path/normalize.ts';
import { anyMatcher, type StringMatcher } from './match.ts';
import type {
  AuthzCondition,
  AuthzDecision,
  AuthzMatch,
  AuthzOperation,
  AuthzPolicy,
  AuthzRequest,
  AuthzRule,
  AuthzSource,
} from './types.ts';

export type EnforcementMode = 'L7' | 'L4';

export interface AuthorizeOptions {
  /**
   * `L7` (default): an HTTP request (waypoint, sidecar, proxyless gRPC). `L4`: a connection
   * without HTTP: ztunnel always, and sidecars/waypoints for plain TCP traffic. In L7 mode a
   * missing path/host/method simply does not match, so a DENY on paths would not stop a TCP
   * connection; use L4 for those.
   */
  readonly mode?: EnforcementMode;
  /** How request paths are normalized before path rules (default: reject %2F/%5C, merge slashes). */
  readonly path?: NormalizePathOptions;
}

type Polarity = 'allow' | 'deny';

/** Fields and condition keys that need HTTP. */
const L7_SOURCE_FIELDS = [
  'requestPrincipals',
  'notRequestPrincipals',
  'remoteIpBlocks',
  'notRemoteIpBlocks',
] as const;
const L7_OPERATION_FIELDS = ['hosts', 'notHosts', 'methods', 'notMethods', 'paths', 'notPaths'] as const;

export function isL7ConditionKey(key: string): boolean {
  return key.startsWith('request.') || key === 'remote.ip' || key === 'connection.sni';
}

/** Whether a rule uses anything only an HTTP-aware proxy can evaluate. */
export function ruleNeedsL7(rule: AuthzRule): boolean {
  return (
    rule.from.some((s) => L7_SOURCE_FIELDS.some((f) => s[f] !== undefined)) ||
    rule.to.some((o) => L7_OPERATION_FIELDS.some((f) => o[f] !== undefined)) ||
    rule.when.some((c) => isL7ConditionKey(c.key))
  );
}

/** The rule as L4 enforcement sees it for DENY: L7 fields and conditions removed. */
function stripL7(rule: AuthzRule): AuthzRule {
  const from = rule.from.map((s) => {
    const out: Record<string, unknown> = { ...s };
    for (const f of L7_SOURCE_FIELDS) delete out[f];
    return out as AuthzSource;
  });
  const to = rule.to.map((o) => {
    const out: Record<string, unknown> = { ...o };
    for (const f of L7_OPERATION_FIELDS) delete out[f];
    return out as AuthzOperation;
  });
  return { from, to, when: rule.when.filter((c) => !isL7ConditionKey(c.key)) };
}

/** What the evaluator reads from a request, parsed once. */
interface Prepared {
  readonly mode: EnforcementMode;
  readonly principal: string | undefined;
  readonly namespace: string | undefined;
  readonly sourceIp: IpBytes | undefined;
  readonly remoteIp: IpBytes | undefined;
  readonly destinationIp: IpBytes | undefined;
  readonly destinationPort: number | undefined;
  readonly sni: string | undefined;
  readonly host: string | undefined;
  readonly hostPort: number | undefined;
  readonly method: string | undefined;
  readonly path: string | undefined;
  readonly headers: ReadonlyMap<string, readonly string[]>;
  readonly request: AuthzRequest;
}

// Compiled matchers are cached per rule object (policies are immutable values).
interface CompiledSource {
  readonly src: AuthzSource;
  readonly principals?: StringMatcher;
  readonly notPrincipals?: StringMatcher;
  readonly requestPrincipals?: StringMatcher;
  readonly notRequestPrincipals?: StringMatcher;
  readonly namespaces?: StringMatcher;
  readonly notNamespaces?: StringMatcher;
  readonly ipBlocks?: readonly Cidr[];
  readonly notIpBlocks?: readonly Cidr[];
  readonly remoteIpBlocks?: readonly Cidr[];
  readonly notRemoteIpBlocks?: readonly Cidr[];
}

interface CompiledOperation {
  readonly op: AuthzOperation;
  readonly hosts?: StringMatcher;
  readonly notHosts?: StringMatcher;
  readonly methods?: StringMatcher;
  readonly notMethods?: StringMatcher;
  readonly paths?: StringMatcher;
  readonly notPaths?: StringMatcher;
}

interface CompiledRule {
  readonly from: readonly CompiledSource[];
  readonly to: readonly CompiledOperation[];
  readonly when: readonly AuthzCondition[];
}

const cache = new WeakMap<AuthzRule, CompiledRule>();
const l4Cache = new WeakMap<AuthzRule, CompiledRule>();

function cidrs(list: readonly string[] | undefined): Cidr[] | undefined {
  if (!list) return undefined;
  // An unparsable block (only possible for hand-built policies) matches nothing.
  return list.map((c) => parseCidr(c)).filter((c): c is Cidr => c !== undefined);
}

function matcher(list: readonly string[] | undefined, ignoreCase = false): StringMatcher | undefined {
  return list ? anyMatcher(list, ignoreCase) : undefined;
}

function stripSpiffe(v: string): string {
  return v.startsWith('spiffe://') ? v.slice(9) : v;
}

function compileRule(rule: AuthzRule): CompiledRule {
  const opt = <K extends string, V>(key: K, value: V | undefined) =>
    (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
  return {
    from: rule.from.map((s) => ({
      src: s,
      ...opt('principals', matcher(s.principals?.map(stripSpiffe))),
      ...opt('notPrincipals', matcher(s.notPrincipals?.map(stripSpiffe))),
      ...opt('requestPrincipals', matcher(s.requestPrincipals)),
      ...opt('notRequestPrincipals', matcher(s.notRequestPrincipals)),
      ...opt('namespaces', matcher(s.namespaces)),
      ...opt('notNamespaces', matcher(s.notNamespaces)),
      ...opt('ipBlocks', cidrs(s.ipBlocks)),
      ...opt('notIpBlocks', cidrs(s.notIpBlocks)),
      ...opt('remoteIpBlocks', cidrs(s.remoteIpBlocks)),
      ...opt('notRemoteIpBlocks', cidrs(s.notRemoteIpBlocks)),
    })),
    to: rule.to.map((o) => ({
      op: o,
      ...opt('hosts', matcher(o.hosts, true)),
      ...opt('notHosts', matcher(o.notHosts, true)),
      ...opt('methods', matcher(o.methods)),
      ...opt('notMethods', matcher(o.notMethods)),
      ...opt('paths', matcher(o.paths)),
      ...opt('notPaths', matcher(o.notPaths)),
    })),
    when: rule.when,
  };
}

function compiled(rule: AuthzRule, l4Deny: boolean): CompiledRule {
  const c = l4Deny ? l4Cache : cache;
  let r = c.get(rule);
  if (!r) {
    r = compileRule(l4Deny ? stripL7(rule) : rule);
    c.set(rule, r);
  }
  return r;
}

function inAny(blocks: readonly Cidr[], ip: IpBytes | undefined): boolean {
  return ip !== undefined && blocks.some((b) => cidrContains(b, ip));
}

/** Positive list: the value must exist and match. Negative list: must not (absent passes). */
function pos(m: StringMatcher | undefined, v: string | undefined): boolean {
  return m === undefined || (v !== undefined && m(v));
}
function neg(m: StringMatcher | undefined, v: string | undefined): boolean {
  return m === undefined || v === undefined || !m(v);
}

function sourceMatches(s: CompiledSource, r: Prepared): boolean {
  const remote = r.remoteIp ?? r.sourceIp;
  return (
    pos(s.principals, r.principal) &&
    neg(s.notPrincipals, r.principal) &&
    pos(s.requestPrincipals, r.request.requestPrincipal) &&
    neg(s.notRequestPrincipals, r.request.requestPrincipal) &&
    pos(s.namespaces, r.namespace) &&
    neg(s.notNamespaces, r.namespace) &&
    (s.ipBlocks === undefined || inAny(s.ipBlocks, r.sourceIp)) &&
    (s.notIpBlocks === undefined || !inAny(s.notIpBlocks, r.sourceIp)) &&
    (s.remoteIpBlocks === undefined || inAny(s.remoteIpBlocks, remote)) &&
    (s.notRemoteIpBlocks === undefined || !inAny(s.notRemoteIpBlocks, remote))
  );
}

function hostMatches(m: StringMatcher, r: Prepared, patterns: readonly string[]): boolean {
  if (r.host === undefined) return false;
  const port = r.hostPort ?? r.destinationPort;
  // Patterns that name a port are compared with host:port, the others with the bare host.
  if (patterns.some((p) => p.includes(':') && !p.startsWith('['))) {
    if (port !== undefined && m(`${r.host}:${port}`)) return true;
  }
  return m(r.host);
}

function operationMatches(o: CompiledOperation, r: Prepared): boolean {
  const { op } = o;
  if (o.hosts && !hostMatches(o.hosts, r, op.hosts ?? [])) return false;
  if (o.notHosts && r.host !== undefined && hostMatches(o.notHosts, r, op.notHosts ?? [])) return false;
  if (op.ports && (r.destinationPort === undefined || !op.ports.includes(r.destinationPort))) return false;
  if (op.notPorts && r.destinationPort !== undefined && op.notPorts.includes(r.destinationPort)) return false;
  return (
    pos(o.methods, r.method) && neg(o.notMethods, r.method) && pos(o.paths, r.path) && neg(o.notPaths, r.path)
  );
}

function claimValues(
  claims: Readonly<Record<string, unknown>> | undefined,
  path: readonly string[],
): string[] | undefined {
  let cur: unknown = claims;
  for (const p of path) {
    if (typeof cur !== 'object' || cur === null || Array.isArray(cur) || !Object.hasOwn(cur, p))
      return undefined;
    cur = (cur as Record<string, unknown>)[p];
  }
  const scalar = (v: unknown) =>
    typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined;
  if (Array.isArray(cur)) return cur.map(scalar).filter((v): v is string => v !== undefined);
  const s = scalar(cur);
  return s === undefined ? undefined : [s];
}

/** Values of a condition key; undefined when the attribute is absent. */
function conditionValues(
  key: string,
  r: Prepared,
): { values: readonly string[] | undefined; header: boolean } {
  const one = (v: string | undefined) => ({ values: v === undefined ? undefined : [v], header: false });
  switch (key) {
    case 'source.ip':
      return one(r.request.sourceIp);
    case 'remote.ip':
      return one(r.request.remoteIp ?? r.request.sourceIp);
    case 'source.namespace':
      return one(r.namespace);
    case 'source.principal':
      return one(r.principal);
    case 'destination.ip':
      return one(r.request.destinationIp);
    case 'destination.port':
      return one(r.destinationPort === undefined ? undefined : String(r.destinationPort));
    case 'connection.sni':
      return one(r.sni);
    case 'request.auth.principal':
      return one(r.request.requestPrincipal);
    case 'request.auth.presenter':
      return one(r.request.requestPresenter);
    case 'request.auth.audiences':
      return { values: r.request.requestAudiences, header: false };
  }
  const header = /^request\.headers\[(.+)\]$/.exec(key);
  if (header) return { values: r.headers.get((header[1] as string).toLowerCase()), header: true };
  if (key.startsWith('request.auth.claims[')) {
    const parts = [...key.slice('request.auth.claims'.length).matchAll(/\[([^\]]+)\]/g)].map(
      (m) => m[1] as string,
    );
    return { values: claimValues(r.request.requestClaims, parts), header: false };
  }
  return { values: undefined, header: false };
}

function valueMatcher(key: string, patterns: readonly string[]): StringMatcher {
  if (key === 'source.ip' || key === 'remote.ip' || key === 'destination.ip') {
    const blocks = cidrs(patterns) ?? [];
    return (v) => inAny(blocks, parseIp(v));
  }
  if (key === 'destination.port') return (v) => patterns.some((p) => Number(p) === Number(v));
  if (key === 'source.principal') return anyMatcher(patterns.map(stripSpiffe));
  return anyMatcher(patterns);
}

function conditionHolds(c: AuthzCondition, r: Prepared, polarity: Polarity): boolean {
  const { values, header } = conditionValues(c.key, r);
  // For repeated headers the ambiguity resolves against the policy (see the file comment).
  const quantify = (test: (v: string) => boolean): boolean => {
    if (values === undefined || values.length === 0) return false;
    if (!header || values.length === 1) return header ? test(values[0] as string) : values.some(test);
    if (polarity === 'deny') return values.some(test) || test(values.join(','));
    return values.every(test);
  };
  if (c.values) {
    const m = valueMatcher(c.key, c.values);
    if (!quantify(m)) return false;
  }
  if (c.notValues) {
    const m = valueMatcher(c.key, c.notValues);
    if (values !== undefined && values.length > 0) {
      if (header) {
        if (!quantify((v) => !m(v))) return false;
      } else if (values.some(m)) return false;
    }
  }
  return true;
}

function ruleMatches(rule: CompiledRule, r: Prepared, polarity: Polarity): boolean {
  if (rule.from.length > 0 && !rule.from.some((s) => sourceMatches(s, r))) return false;
  if (rule.to.length > 0 && !rule.to.some((o) => operationMatches(o, r))) return false;
  return rule.when.every((c) => conditionHolds(c, r, polarity));
}

function headerMap(headers: AuthzRequest['headers']): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [name, value] of Object.entries(headers ?? {})) {
    const key = name.toLowerCase();
    const list = out.get(key) ?? [];
    if (typeof value === 'string') list.push(value);
    else list.push(...value);
    out.set(key, list);
  }
  return out;
}

/** What L4 enforcement may look at: no HTTP, no JWT, no forwarded addresses. */
function l4View(request: AuthzRequest): AuthzRequest {
  const {
    host: _host,
    method: _method,
    path: _path,
    headers: _headers,
    requestPrincipal: _rp,
    requestAudiences: _ra,
    requestPresenter: _rpr,
    requestClaims: _rc,
    remoteIp: _remote,
    ...rest
  } = request;
  return rest;
}

// The namespace is read with the one SPIFFE parser, anchored: a peer ID such as
// "td/x/ns/kube-system/sa/y" (a valid SPIFFE ID, not a workload one) has no namespace.
function namespaceOf(principal: string | undefined): string | undefined {
  return principal === undefined ? undefined : memo(namespaces, principal, namespaceOfId);
}

function namespaceOfId(principal: string): string | undefined {
  return parseSpiffeId(principal)?.namespace;
}

// A proxy asks about the same few callers and addresses request after request, and parsing a
// SPIFFE ID and three addresses was most of a decision's cost (2.3 µs of it per request at a
// waypoint, measured on Node 20). Their parsed forms are kept here: small maps, emptied when
// full, holding values this module only reads.
const MEMO_MAX = 4096;
const namespaces = new Map<string, string | undefined>();
const addresses = new Map<string, IpBytes | undefined>();

function memo<V>(m: Map<string, V>, key: string, parse: (k: string) => V): V {
  const hit = m.get(key);
  if (hit !== undefined || m.has(key)) return hit as V;
  const v = parse(key);
  if (m.size >= MEMO_MAX) m.clear();
  m.set(key, v);
  return v;
}

function ipOf(text: string | undefined): IpBytes | undefined {
  return text === undefined ? undefined : memo(addresses, text, parseIp);
}

const L4_NOTE =
  'L4 enforcement: ALLOW rules with L7 fields never match and L7 fields of DENY rules are ignored';

/**
 * Decides a request against the policies that apply to its destination (see `policiesFor`).
 * Pure and deterministic: policies are evaluated in key order whatever order they come in.
 */
export function authorize(
  policies: readonly AuthzPolicy[],
  request: AuthzRequest,
  options: AuthorizeOptions = {},
): AuthzDecision {
  const mode = options.mode ?? 'L7';
  let path: string | undefined;
  let host: string | undefined;
  let hostPort: number | undefined;
  if (mode === 'L7') {
    if (request.path !== undefined) {
      const n = normalizePath(request.path, options.path);
      if (!n.ok)
        return { action: 'DENY', code: 'invalid-request', reason: `invalid request path: ${n.reason}` };
      path = n.path;
    }
    if (request.host !== undefined) {
      const h = normalizeHost(request.host);
      if (!h.ok) return { action: 'DENY', code: 'invalid-request', reason: `invalid host: ${h.reason}` };
      host = h.host;
      hostPort = h.port;
    }
  }
  const principal = request.sourcePrincipal === undefined ? undefined : stripSpiffe(request.sourcePrincipal);
  const prepared: Prepared = {
    mode,
    principal,
    // A claimed sourceNamespace only counts when there is no principal.
    namespace: principal === undefined ? request.sourceNamespace : namespaceOf(principal),
    sourceIp: ipOf(request.sourceIp),
    remoteIp: mode === 'L4' ? undefined : ipOf(request.remoteIp),
    destinationIp: ipOf(request.destinationIp),
    destinationPort: request.destinationPort,
    sni: request.sni,
    host,
    hostPort,
    method: mode === 'L7' ? request.method : undefined,
    path,
    headers: mode === 'L7' ? headerMap(request.headers) : new Map(),
    request: mode === 'L7' ? request : l4View(request),
  };

  const ordered = [...policies].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  let degraded = false;
  const evaluate = (policy: AuthzPolicy, polarity: Polarity): number => {
    for (let i = 0; i < policy.rules.length; i++) {
      const rule = policy.rules[i] as AuthzRule;
      if (mode === 'L4' && ruleNeedsL7(rule)) {
        degraded = true;
        if (polarity === 'allow') continue;
      }
      if (ruleMatches(compiled(rule, mode === 'L4' && polarity === 'deny'), prepared, polarity)) return i;
    }
    return -1;
  };
  const withNote = (reason: string) => (degraded ? `${reason}; ${L4_NOTE}` : reason);
  const extras = (audit: AuthzMatch[]) => ({
    ...(audit.length > 0 ? { audit } : {}),
    ...(degraded ? { l4Degraded: true } : {}),
  });

  const audit: AuthzMatch[] = [];
  for (const p of ordered) {
    if (p.action !== 'AUDIT') continue;
    const i = evaluate(p, 'allow');
    if (i >= 0) audit.push({ policy: p.key, rule: i });
  }
  for (const p of ordered) {
    if (p.action === 'ALLOW' || p.action === 'AUDIT') continue;
    if (p.action !== 'DENY') {
      // Not a supported action (e.g. CUSTOM from a hand-built policy): fail closed.
      return {
        action: 'DENY',
        code: 'denied',
        policy: p.key,
        reason: withNote(`unsupported action ${String(p.action)} in ${p.key}`),
        ...extras(audit),
      };
    }
    const i = evaluate(p, 'deny');
    if (i >= 0) {
      return {
        action: 'DENY',
        code: 'denied',
        policy: p.key,
        rule: i,
        reason: withNote(`denied by DENY policy ${p.key} rule ${i}`),
        ...extras(audit),
      };
    }
  }
  const allows = ordered.filter((p) => p.action === 'ALLOW');
  if (allows.length === 0) {
    return {
      action: 'ALLOW',
      code: 'no-policy',
      reason: withNote('no ALLOW policy applies'),
      ...extras(audit),
    };
  }
  for (const p of allows) {
    const i = evaluate(p, 'allow');
    if (i >= 0) {
      return {
        action: 'ALLOW',
        code: 'allowed',
        policy: p.key,
        rule: i,
        reason: withNote(`allowed by ALLOW policy ${p.key} rule ${i}`),
        ...extras(audit),
      };
    }
  }
  return {
    action: 'DENY',
    code: 'no-allow-match',
    reason: withNote(
      `no rule of the ${allows.length} ALLOW ${allows.length === 1 ? 'policy' : 'policies'} matched`,
    ),
    ...extras(audit),
  };
}
