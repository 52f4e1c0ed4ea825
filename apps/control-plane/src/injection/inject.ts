// inject(object, options?) -> the object with the Weft sidecar, and the RFC 6902 JSONPatch that
// makes it so. Pure: no I/O, no clock; the admission webhook and the CLI both call it.
//
// What it adds to the pod (or the pod template of a Deployment, StatefulSet, DaemonSet,
// ReplicaSet, Job or CronJob):
//   - the proxy as a native sidecar: the first init container, `restartPolicy: Always`. Kubernetes
//     starts it before the other init containers and the app, waits for its startup probe (on
//     15021, the same endpoint as its readiness probe) before starting them, and stops it after
//     the app, so Jobs still complete. The proxy runs as uid/gid 1337, the uid interception skips.
//   - the label `weft.dev/dataplane-mode: sidecar` (what makes weftd and the CNI treat the pod as
//     a sidecar pod);
//   - a projected service-account token (audience `weft-ca`) mounted into the proxy only, the
//     token it streams xDS and asks for certificates with.
// Not injected (`injected: false`, no patch): pods that opt out and pods already injected.
// A malformed object is an error value naming the field; nothing here throws on bad input.

export const SIDECAR_CONTAINER = 'weft-proxy';
export const TOKEN_VOLUME = 'weft-token';
export const TOKEN_MOUNT_PATH = '/var/run/secrets/weft/tokens';
export const TOKEN_FILE = 'weft-token';
export const DATAPLANE_MODE_LABEL = 'weft.dev/dataplane-mode';
/** Label or annotation; `"false"` opts the pod out of injection. */
export const INJECT_LABEL = 'weft.dev/inject';
export const PROXY_UID = 1337;

/** The proxy's ports (DESIGN.md "Ports"). */
export interface SidecarPorts {
  readonly outbound: number;
  readonly inbound: number;
  readonly hbone: number;
  readonly admin: number;
  readonly metrics: number;
  readonly readiness: number;
}

export const DEFAULT_SIDECAR_PORTS: SidecarPorts = {
  outbound: 15001,
  inbound: 15006,
  hbone: 15008,
  admin: 15000,
  metrics: 15020,
  readiness: 15021,
};

export interface ResourceRequirements {
  readonly requests?: Readonly<Record<string, string>>;
  readonly limits?: Readonly<Record<string, string>>;
}

export interface InjectOptions {
  /** Default `ghcr.io/weft-mesh/sidecar:latest`. */
  readonly image?: string;
  /** Arguments for the image's entrypoint; default none. */
  readonly args?: readonly string[];
  readonly ports?: Partial<SidecarPorts>;
  /** Default requests 100m CPU / 128Mi, limit 1Gi memory. */
  readonly resources?: ResourceRequirements;
  /** Where the proxy finds weftd's TLS xDS + CA port. Default `weftd.weft-system.svc:15012`. */
  readonly xdsAddress?: string;
  /** Audience of the mounted token (what weftd's TokenReview expects). Default `weft-ca`. */
  readonly tokenAudience?: string;
  /** Default 3600 s (the kubelet refreshes it at 80 %). */
  readonly tokenExpirationSeconds?: number;
  readonly imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
}

export const DEFAULT_IMAGE = 'ghcr.io/weft-mesh/sidecar:latest';

export type JsonPatchOperation = { readonly op: 'add'; readonly path: string; readonly value: unknown };

export type InjectResult =
  | {
      readonly ok: true;
      readonly injected: true;
      /** A copy of the input with the sidecar; the input is left alone. */
      readonly object: Record<string, unknown>;
      readonly patch: readonly JsonPatchOperation[];
    }
  | {
      readonly ok: true;
      readonly injected: false;
      /** Why not, e.g. `opted out: weft.dev/inject=false`, `already injected`. */
      readonly reason: string;
      readonly object: Record<string, unknown>;
      readonly patch: readonly [];
    }
  | { readonly ok: false; readonly error: string };

type Obj = Record<string, unknown>;

const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Where the pod template sits, per kind (JSON pointer segments and the field path for errors). */
const TEMPLATE_PATHS: Readonly<Record<string, readonly string[]>> = {
  Pod: [],
  Deployment: ['spec', 'template'],
  StatefulSet: ['spec', 'template'],
  DaemonSet: ['spec', 'template'],
  ReplicaSet: ['spec', 'template'],
  Job: ['spec', 'template'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template'],
};

export const INJECTABLE_KINDS: readonly string[] = Object.keys(TEMPLATE_PATHS);

/** RFC 6901 escaping of one pointer segment. */
export function pointerSegment(s: string): string {
  return s.replace(/~/g, '~0').replace(/\//g, '~1');
}

function stringMap(v: unknown, field: string): Record<string, string> | string {
  if (v === undefined || v === null) return {};
  if (!isObject(v)) return `${field}: not an object`;
  for (const [k, x] of Object.entries(v)) {
    if (typeof x !== 'string') return `${field}.${k}: not a string`;
  }
  return v as Record<string, string>;
}

function containerNames(list: unknown, field: string): string[] | string {
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list)) return `${field}: not a list`;
  const out: string[] = [];
  for (const [i, c] of list.entries()) {
    if (!isObject(c) || typeof c.name !== 'string') return `${field}[${i}].name: missing or not a string`;
    out.push(c.name);
  }
  return out;
}

/** The proxy container, as `inject` adds it. */
export function sidecarContainer(options: InjectOptions = {}): Obj {
  const ports = { ...DEFAULT_SIDECAR_PORTS, ...options.ports };
  const probe = (periodSeconds: number, failureThreshold: number) => ({
    httpGet: { path: '/healthz/ready', port: ports.readiness },
    periodSeconds,
    failureThreshold,
    timeoutSeconds: 1,
  });
  const field = (fieldPath: string) => ({ valueFrom: { fieldRef: { fieldPath } } });
  return {
    name: SIDECAR_CONTAINER,
    image: options.image ?? DEFAULT_IMAGE,
    ...(options.imagePullPolicy === undefined ? {} : { imagePullPolicy: options.imagePullPolicy }),
    ...(options.args === undefined ? {} : { args: [...options.args] }),
    restartPolicy: 'Always',
    ports: [
      { name: 'hbone', containerPort: ports.hbone, protocol: 'TCP' },
      { name: 'http-metrics', containerPort: ports.metrics, protocol: 'TCP' },
      { name: 'health', containerPort: ports.readiness, protocol: 'TCP' },
    ],
    env: [
      { name: 'WEFT_MODE', value: 'sidecar' },
      { name: 'WEFT_XDS_ADDRESS', value: options.xdsAddress ?? 'weftd.weft-system.svc:15012' },
      { name: 'WEFT_TOKEN_FILE', value: `${TOKEN_MOUNT_PATH}/${TOKEN_FILE}` },
      { name: 'WEFT_OUTBOUND_PORT', value: String(ports.outbound) },
      { name: 'WEFT_INBOUND_PORT', value: String(ports.inbound) },
      { name: 'WEFT_HBONE_PORT', value: String(ports.hbone) },
      { name: 'WEFT_ADMIN_PORT', value: String(ports.admin) },
      { name: 'WEFT_METRICS_PORT', value: String(ports.metrics) },
      { name: 'WEFT_READINESS_PORT', value: String(ports.readiness) },
      { name: 'POD_NAME', ...field('metadata.name') },
      { name: 'POD_NAMESPACE', ...field('metadata.namespace') },
      { name: 'NODE_NAME', ...field('spec.nodeName') },
      { name: 'SERVICE_ACCOUNT', ...field('spec.serviceAccountName') },
      { name: 'INSTANCE_IP', ...field('status.podIP') },
    ],
    resources: options.resources ?? { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '1Gi' } },
    // The app starts only once this passes (native sidecars gate on the startup probe).
    startupProbe: probe(1, 600),
    readinessProbe: probe(5, 3),
    securityContext: {
      runAsUser: PROXY_UID,
      runAsGroup: PROXY_UID,
      runAsNonRoot: true,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    },
    volumeMounts: [{ name: TOKEN_VOLUME, mountPath: TOKEN_MOUNT_PATH, readOnly: true }],
  };
}

function tokenVolume(options: InjectOptions): Obj {
  return {
    name: TOKEN_VOLUME,
    projected: {
      sources: [
        {
          serviceAccountToken: {
            audience: options.tokenAudience ?? 'weft-ca',
            expirationSeconds: options.tokenExpirationSeconds ?? 3600,
            path: TOKEN_FILE,
          },
        },
      ],
    },
  };
}

function fail(error: string): InjectResult {
  return { ok: false, error };
}

/**
 * Adds the Weft sidecar to a Pod or a workload's pod template. Returns the patched copy and the
 * JSONPatch against the input, `injected: false` with a reason when the pod opts out or already
 * has the sidecar, or an error naming the malformed field.
 */
export function inject(input: unknown, options: InjectOptions = {}): InjectResult {
  if (!isObject(input)) return fail('the object is not a JSON object');
  const kind = input.kind;
  if (typeof kind !== 'string') return fail('kind: missing or not a string');
  // Own keys only: `toString` or `__proto__` as a kind must not find Object.prototype's.
  const segments = Object.hasOwn(TEMPLATE_PATHS, kind) ? TEMPLATE_PATHS[kind] : undefined;
  if (segments === undefined) {
    return fail(`kind: ${kind.slice(0, 64)} is not one of ${INJECTABLE_KINDS.join(', ')}`);
  }
  let template: unknown = input;
  const walked: string[] = [];
  for (const s of segments) {
    walked.push(s);
    template = Object.hasOwn(template as Obj, s) ? (template as Obj)[s] : undefined;
    if (!isObject(template)) return fail(`${walked.join('.')}: missing or not an object`);
  }
  const prefix = segments.length === 0 ? '' : `/${segments.join('/')}`;
  const at = (field: string) => (segments.length === 0 ? field : `${segments.join('.')}.${field}`);
  const pod = template as Obj;

  const metadata = pod.metadata ?? {};
  if (!isObject(metadata)) return fail(`${at('metadata')}: not an object`);
  const labels = stringMap(metadata.labels, at('metadata.labels'));
  if (typeof labels === 'string') return fail(labels);
  const annotations = stringMap(metadata.annotations, at('metadata.annotations'));
  if (typeof annotations === 'string') return fail(annotations);
  const spec = pod.spec;
  if (!isObject(spec)) return fail(`${at('spec')}: missing or not an object`);
  const containers = containerNames(spec.containers, at('spec.containers'));
  if (typeof containers === 'string') return fail(containers);
  if (containers.length === 0) return fail(`${at('spec.containers')}: missing or empty`);
  const initContainers = containerNames(spec.initContainers, at('spec.initContainers'));
  if (typeof initContainers === 'string') return fail(initContainers);
  const volumes = containerNames(spec.volumes, at('spec.volumes'));
  if (typeof volumes === 'string') return fail(volumes);

  const skip = (reason: string): InjectResult => ({
    ok: true,
    injected: false,
    reason,
    object: input,
    patch: [],
  });
  if (containers.includes(SIDECAR_CONTAINER) || initContainers.includes(SIDECAR_CONTAINER)) {
    return skip(`already injected: container ${SIDECAR_CONTAINER} is present`);
  }
  for (const [where, map] of [
    ['label', labels],
    ['annotation', annotations],
  ] as const) {
    if (map[INJECT_LABEL] === 'false') return skip(`opted out: ${where} ${INJECT_LABEL}=false`);
  }
  const mode = labels[DATAPLANE_MODE_LABEL];
  if (mode !== undefined && mode !== 'sidecar') {
    return skip(`opted out: label ${DATAPLANE_MODE_LABEL}=${mode.slice(0, 64)}`);
  }
  if (spec.hostNetwork === true) return skip('opted out: hostNetwork pods cannot be intercepted');
  if (volumes.includes(TOKEN_VOLUME)) {
    return fail(`${at('spec.volumes')}: a volume named ${TOKEN_VOLUME} already exists`);
  }

  const patch: JsonPatchOperation[] = [];
  const container = sidecarContainer(options);
  const volume = tokenVolume(options);
  if (pod.metadata === undefined) {
    patch.push({
      op: 'add',
      path: `${prefix}/metadata`,
      value: { labels: { [DATAPLANE_MODE_LABEL]: 'sidecar' } },
    });
  } else if (metadata.labels === undefined || metadata.labels === null) {
    patch.push({
      op: 'add',
      path: `${prefix}/metadata/labels`,
      value: { [DATAPLANE_MODE_LABEL]: 'sidecar' },
    });
  } else if (mode === undefined) {
    patch.push({
      op: 'add',
      path: `${prefix}/metadata/labels/${pointerSegment(DATAPLANE_MODE_LABEL)}`,
      value: 'sidecar',
    });
  }
  if (spec.initContainers === undefined || spec.initContainers === null || initContainers.length === 0) {
    patch.push({ op: 'add', path: `${prefix}/spec/initContainers`, value: [container] });
  } else {
    patch.push({ op: 'add', path: `${prefix}/spec/initContainers/0`, value: container });
  }
  if (spec.volumes === undefined || spec.volumes === null || volumes.length === 0) {
    patch.push({ op: 'add', path: `${prefix}/spec/volumes`, value: [volume] });
  } else {
    patch.push({ op: 'add', path: `${prefix}/spec/volumes/-`, value: volume });
  }

  // The patched copy: only the objects on the way to what changed are copied.
  const newPod: Obj = {
    ...pod,
    metadata: { ...metadata, labels: { ...labels, [DATAPLANE_MODE_LABEL]: 'sidecar' } },
    spec: {
      ...spec,
      initContainers: [container, ...((spec.initContainers as unknown[] | undefined | null) ?? [])],
      volumes: [...((spec.volumes as unknown[] | undefined | null) ?? []), volume],
    },
  };
  let object: Obj = newPod;
  for (let i = segments.length - 1; i >= 0; i--) {
    let parent: Obj = input;
    for (const s of segments.slice(0, i)) parent = parent[s] as Obj;
    object = { ...parent, [segments[i] as string]: object };
  }
  return { ok: true, injected: true, object, patch };
}
