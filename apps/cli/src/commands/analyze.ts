// weft analyze: offline validation of manifests with @weft/policy (the compile weftd runs) plus
// cross-object checks a user trips on. Each finding names the object, the field and the fix.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import {
  compile,
  DEFAULT_ROOT_NAMESPACE,
  LABEL_USE_WAYPOINT,
  LABEL_USE_WAYPOINT_NAMESPACE,
  type ManifestObject,
  type MeshSnapshot,
  parseManifests,
  selectorMatches,
  type ValidationError,
} from '@weft/policy';
import type { Command } from 'commander';
import type { CommandContext } from '../context.ts';
import { EXIT, oneLine, usageError } from '../errors.ts';
import { table } from '../format.ts';

export interface Finding {
  readonly level: 'error' | 'warning';
  readonly code: string;
  /** `Kind namespace/name`, or the file for a parse error. */
  readonly object: string;
  readonly field: string;
  readonly message: string;
}

export interface LoadedManifests {
  readonly objects: ManifestObject[];
  readonly findings: Finding[];
  readonly files: string[];
}

/** Every .yaml/.yml/.json file under the paths (folders read one level deep, sorted). */
export function loadManifests(paths: readonly string[], cwd: string): LoadedManifests {
  const files: string[] = [];
  for (const p of paths) {
    const abs = resolve(cwd, p);
    let st: ReturnType<typeof statSync>;
    try {
      st = statSync(abs);
    } catch {
      throw usageError(`${p}: no such file or folder`);
    }
    if (st.isDirectory())
      files.push(
        ...readdirSync(abs)
          .filter((f) => /\.(ya?ml|json)$/.test(f))
          .sort()
          .map((f) => join(abs, f)),
      );
    else files.push(abs);
  }
  const objects: ManifestObject[] = [];
  const findings: Finding[] = [];
  for (const file of files) {
    const name = relative(cwd, file) || file;
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw usageError(`${name}: ${oneLine(err)}`);
    }
    const parsed = parseManifests(text, name);
    objects.push(...parsed.objects);
    for (const e of parsed.errors)
      findings.push({
        level: 'error',
        code: e.reason,
        object: name,
        field: e.field ?? '',
        message: e.message.startsWith(`${name}: `) ? e.message.slice(name.length + 2) : e.message,
      });
  }
  return { objects, findings, files };
}

const refName = (kind: string | undefined, ns: string | undefined, name: string | undefined): string =>
  `${kind ?? '?'} ${ns !== undefined ? `${ns}/` : ''}${name ?? '?'}`;

function fromValidation(e: ValidationError, level: 'error' | 'warning'): Finding {
  return {
    level,
    code: e.code,
    object: refName(e.kind, e.namespace, e.name),
    field: e.path,
    message: e.issues
      .map((i) => (i.path && i.path !== e.path ? `${i.path}: ${i.message}` : i.message))
      .join('; '),
  };
}

interface Obj {
  readonly kind: string;
  readonly ns: string;
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly spec: Record<string, unknown>;
}

function view(o: ManifestObject): Obj {
  const m = o.metadata as { name?: string; namespace?: string; labels?: Record<string, string> };
  return {
    kind: o.kind,
    ns: m.namespace ?? (o.kind === 'Namespace' ? '' : 'default'),
    name: m.name ?? '?',
    labels: m.labels ?? {},
    spec: (o.spec ?? {}) as Record<string, unknown>,
  };
}

const arr = (v: unknown): Record<string, unknown>[] =>
  Array.isArray(v) ? v.filter((x): x is Record<string, unknown> => typeof x === 'object' && x !== null) : [];
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const matchLabels = (spec: Record<string, unknown>): Record<string, string> | undefined => {
  const sel = spec.selector as { matchLabels?: Record<string, string> } | undefined;
  return sel?.matchLabels;
};

/** Checks across objects that each pass validation alone. */
export function crossChecks(
  objects: readonly ManifestObject[],
  rootNamespace = DEFAULT_ROOT_NAMESPACE,
): Finding[] {
  const all = objects.map(view);
  const pods = all.filter((o) => o.kind === 'Pod');
  const services = all.filter((o) => o.kind === 'Service');
  const gateways = all.filter((o) => o.kind === 'Gateway');
  const out: Finding[] = [];
  const add = (level: Finding['level'], code: string, o: Obj, field: string, message: string): void => {
    out.push({ level, code, object: refName(o.kind, o.ns || undefined, o.name), field, message });
  };

  // A policy whose selector matches no pod.
  for (const o of all.filter((x) => x.kind === 'AuthorizationPolicy' || x.kind === 'PeerAuthentication')) {
    const labels = matchLabels(o.spec);
    if (labels === undefined || Object.keys(labels).length === 0) continue;
    const candidates = o.ns === rootNamespace ? pods : pods.filter((p) => p.ns === o.ns);
    if (!candidates.some((p) => selectorMatches(labels, p.labels)))
      add(
        'warning',
        'selects-nothing',
        o,
        'spec.selector.matchLabels',
        `${Object.entries(labels)
          .map(([k, v]) => `${k}=${v}`)
          .join(
            ',',
          )} matches no pod in ${o.ns === rootNamespace ? 'the mesh' : `namespace ${o.ns}`}; fix the labels or remove the policy`,
      );
  }

  // A route whose backend or parent Service (or its port) does not exist.
  const serviceAt = (ns: string, name: string): Obj | undefined =>
    services.find((s) => s.ns === ns && s.name === name);
  const servicePorts = (s: Obj): number[] => arr(s.spec.ports).map((p) => Number(p.port));
  for (const o of all.filter(
    (x) => x.kind === 'HTTPRoute' || x.kind === 'GRPCRoute' || x.kind === 'TCPRoute',
  )) {
    const refs: { field: string; ref: Record<string, unknown> }[] = [];
    arr(o.spec.parentRefs).forEach((ref, i) => {
      if (str(ref.kind) === 'Service') refs.push({ field: `spec.parentRefs[${i}]`, ref });
    });
    arr(o.spec.rules).forEach((rule, r) => {
      arr(rule.backendRefs).forEach((ref, b) => {
        if ((str(ref.kind) ?? 'Service') === 'Service')
          refs.push({ field: `spec.rules[${r}].backendRefs[${b}]`, ref });
      });
    });
    for (const { field, ref } of refs) {
      const name = str(ref.name) ?? '';
      const ns = str(ref.namespace) ?? o.ns;
      const svc = serviceAt(ns, name);
      if (svc === undefined) {
        add(
          'error',
          'missing-service',
          o,
          `${field}.name`,
          `Service ${ns}/${name} does not exist; create it or fix the name`,
        );
        continue;
      }
      const port = ref.port === undefined ? undefined : Number(ref.port);
      if (port !== undefined && !servicePorts(svc).includes(port))
        add(
          'error',
          'missing-port',
          o,
          `${field}.port`,
          `Service ${ns}/${name} has no port ${port} (ports: ${servicePorts(svc).join(', ') || 'none'}); use one of its ports`,
        );
    }
  }

  // A use-waypoint label naming no Gateway.
  for (const o of all.filter((x) => x.kind === 'Namespace' || x.kind === 'Service' || x.kind === 'Pod')) {
    const wp = o.labels[LABEL_USE_WAYPOINT];
    if (wp === undefined || wp === 'none' || wp === '') continue;
    const ns = o.labels[LABEL_USE_WAYPOINT_NAMESPACE] ?? (o.kind === 'Namespace' ? o.name : o.ns);
    if (!gateways.some((g) => g.ns === ns && g.name === wp))
      add(
        'error',
        'missing-waypoint',
        o,
        `metadata.labels["${LABEL_USE_WAYPOINT}"]`,
        `names Gateway ${ns}/${wp}, which does not exist; create it (weft waypoint generate -n ${ns} --name ${wp}) or fix the label`,
      );
  }

  // Conflicting PeerAuthentications: two at the same scope for the same subject.
  const pas = all.filter((x) => x.kind === 'PeerAuthentication');
  const scopeKey = (p: Obj): string | undefined => {
    const labels = matchLabels(p.spec);
    if (labels !== undefined && Object.keys(labels).length > 0) return undefined;
    return p.ns === rootNamespace ? 'mesh' : `namespace ${p.ns}`;
  };
  const seen = new Map<string, Obj>();
  for (const p of pas) {
    const key = scopeKey(p);
    if (key === undefined) continue;
    const first = seen.get(key);
    if (first === undefined) seen.set(key, p);
    else
      add(
        'error',
        'conflicting-peer-authentication',
        p,
        'spec.selector',
        `${key} already has PeerAuthentication ${first.ns}/${first.name}; only the oldest applies: merge them into one`,
      );
  }
  const workloadPas = pas.filter((p) => scopeKey(p) === undefined);
  for (const pod of pods) {
    const hits = workloadPas.filter((p) => {
      const labels = matchLabels(p.spec) ?? {};
      return (p.ns === pod.ns || p.ns === rootNamespace) && selectorMatches(labels, pod.labels);
    });
    const [first, ...rest] = hits;
    for (const p of rest)
      if (first !== undefined)
        add(
          'error',
          'conflicting-peer-authentication',
          p,
          'spec.selector.matchLabels',
          `selects pod ${pod.ns}/${pod.name}, which PeerAuthentication ${first.ns}/${first.name} also selects; only the oldest applies: narrow one selector`,
        );
  }
  return out;
}

export interface AnalyzeResult {
  readonly files: readonly string[];
  readonly objects: number;
  readonly findings: readonly Finding[];
  readonly snapshot: MeshSnapshot;
}

export function analyze(paths: readonly string[], cwd: string): AnalyzeResult {
  const loaded = loadManifests(paths, cwd);
  const result = compile(loaded.objects);
  const cross = crossChecks(loaded.objects, result.snapshot.rootNamespace);
  // A compile warning the cross checks also report (as an error, with the fix) is said once.
  const said = (f: Finding): boolean =>
    cross.some((c) => c.object === f.object && (c.field === f.field || c.field.startsWith(`${f.field}.`)));
  const unique = [
    ...loaded.findings,
    ...result.errors.map((e) => fromValidation(e, 'error')),
    ...result.warnings.map((e) => fromValidation(e, 'warning')).filter((f) => !said(f)),
    ...cross,
  ];
  return { files: loaded.files, objects: loaded.objects.length, findings: unique, snapshot: result.snapshot };
}

/** `error Kind ns/name field: message` */
export const formatFinding = (f: Finding): string =>
  `${f.level} ${f.object}${f.field ? ` ${f.field}` : ''}: ${f.message}`;

export function registerAnalyze(program: Command, ctx: CommandContext): void {
  program
    .command('analyze')
    .description('validate manifests offline: the validation weftd runs plus cross-object checks')
    .option('-f, --file <path...>', 'manifest file or folder (repeatable; default .weft/local/config)')
    .addHelpText('after', '\nExit: 0 no errors (warnings allowed), 1 errors found, 2 a path cannot be read.')
    .action((opts: { file?: string[] }) => {
      const paths = opts.file ?? ['.weft/local/config'];
      const r = analyze(paths, ctx.io.cwd);
      const errors = r.findings.filter((f) => f.level === 'error').length;
      ctx.print({ files: r.files.length, objects: r.objects, findings: r.findings }, () =>
        r.findings.length === 0
          ? `${ctx.colors.green('√')} ${r.objects} objects in ${r.files.length} files: no problems found\n`
          : table(
              ['LEVEL', 'CODE', 'OBJECT', 'FIELD', 'MESSAGE'],
              r.findings.map((f) => [
                f.level === 'error' ? ctx.colors.red(f.level) : ctx.colors.yellow(f.level),
                f.code,
                f.object,
                f.field,
                f.message,
              ]),
            ),
      );
      if (errors > 0) ctx.fail(EXIT.failed);
    });
}
