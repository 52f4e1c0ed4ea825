// weftd's command line -> ControlPlaneConfig plus what main.ts needs to build it. Pure: no I/O.
import { parseArgs } from 'node:util';
import type { LogLevelSetting } from '@weft/telemetry';
import type { ControlPlaneConfig } from './control-plane.ts';

export const USAGE = `weftd: Weft's control plane

Config (one of):
  --config-dir <dir>          folder of YAML/JSON manifests, watched (local mode)
  --kubeconfig <file>         a Kubernetes cluster, from this kubeconfig
  --in-cluster                a Kubernetes cluster, from the pod's service account

Listeners ("off" disables one):
  --xds-address <host:port>      plaintext xDS + CA, local mode (default 127.0.0.1:15010)
  --xds-tls-address <host:port>  TLS xDS + CA (default 127.0.0.1:15012)
  --admin-address <host:port>    admin HTTP (default 127.0.0.1:15014)
  --injection-address <host:port>  sidecar-injection webhook, HTTPS (default 127.0.0.1:15017)

Injection:
  --sidecar-image <image>     the sidecar image the webhook injects

Identity:
  --trust-domain <name>       SPIFFE trust domain (default cluster.local)
  --ca-dir <dir>              keep the CA root here (root-cert.pem, root-key.pem); created when absent
  --token-file <file>         static tokens: "token namespace serviceAccount [node]" per line
  --token-audience <aud>      audience TokenReview must confirm (Kubernetes; default weft-ca; repeatable)
  --anonymous-xds             local mode: let ADS clients stream without a token
  --no-debug-auth             serve /debug/* without a token

Other:
  --log-level <level>         debug, info, warn, error, silent (default info)
  --log-format <kv|json>      (default kv)
  --help
`;

export interface ParsedFlags {
  readonly config: ControlPlaneConfig;
  readonly kube:
    | { readonly kind: 'file'; readonly path: string }
    | { readonly kind: 'in-cluster' }
    | undefined;
  readonly logLevel: LogLevelSetting;
  readonly logFormat: 'kv' | 'json';
}

export type FlagsResult =
  | { readonly ok: true; readonly value: ParsedFlags }
  | { readonly ok: true; readonly help: true }
  | { readonly ok: false; readonly error: string };

const ADDRESS = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):([0-9]{1,5})$/;
const LEVELS = ['debug', 'info', 'warn', 'error', 'silent'];

function address(flag: string, value: string | undefined): string | false | undefined | { error: string } {
  if (value === undefined) return undefined;
  if (value === 'off') return false;
  const m = ADDRESS.exec(value);
  if (!m || Number(m[2]) > 65535) return { error: `--${flag}: "${value}" is not host:port (or "off")` };
  return value;
}

export function parseFlags(argv: readonly string[]): FlagsResult {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
  const v = parsed.values;
  if (v.help) return { ok: true, help: true };
  if (parsed.positionals.length > 0)
    return { ok: false, error: `unexpected argument "${parsed.positionals[0]}"` };
  const modes = [v['config-dir'] !== undefined, v.kubeconfig !== undefined, v['in-cluster'] === true].filter(
    Boolean,
  );
  if (modes.length !== 1) {
    return { ok: false, error: 'give exactly one of --config-dir, --kubeconfig, --in-cluster' };
  }
  const kube =
    v.kubeconfig !== undefined
      ? ({ kind: 'file', path: v.kubeconfig } as const)
      : v['in-cluster']
        ? ({ kind: 'in-cluster' } as const)
        : undefined;
  if (kube !== undefined && v['anonymous-xds'])
    return { ok: false, error: '--anonymous-xds is for local mode only' };
  const xds = address('xds-address', v['xds-address']);
  const xdsTls = address('xds-tls-address', v['xds-tls-address']);
  const admin = address('admin-address', v['admin-address']);
  const injection = address('injection-address', v['injection-address']);
  for (const a of [xds, xdsTls, admin, injection])
    if (typeof a === 'object') return { ok: false, error: a.error };
  if (admin === false) return { ok: false, error: '--admin-address cannot be off' };
  if (xds === false && xdsTls === false) return { ok: false, error: 'both xDS ports are off' };
  const level = v['log-level'] ?? 'info';
  if (!LEVELS.includes(level))
    return { ok: false, error: `--log-level: "${level}" is not one of ${LEVELS.join(', ')}` };
  const format = v['log-format'] ?? 'kv';
  if (format !== 'kv' && format !== 'json')
    return { ok: false, error: `--log-format: "${format}" is not kv or json` };
  const trustDomain = v['trust-domain'];
  if (trustDomain !== undefined && !/^[a-z0-9._-]{1,255}$/.test(trustDomain)) {
    return { ok: false, error: `--trust-domain: "${trustDomain}" is not a valid trust domain` };
  }
  const config: ControlPlaneConfig = {
    ...(v['config-dir'] === undefined ? {} : { configDir: v['config-dir'] }),
    ...(xds === undefined ? {} : { xdsAddress: xds as string | false }),
    ...(xdsTls === undefined ? {} : { xdsTlsAddress: xdsTls as string | false }),
    ...(admin === undefined ? {} : { adminAddress: admin as string }),
    ...(injection === undefined ? {} : { injectionAddress: injection as string | false }),
    ...(v['sidecar-image'] === undefined ? {} : { injection: { image: v['sidecar-image'] } }),
    ...(v['token-file'] === undefined ? {} : { tokenFile: v['token-file'] }),
    ...(v['token-audience'] === undefined ? {} : { tokenAudiences: v['token-audience'] }),
    ...(trustDomain === undefined ? {} : { trustDomain }),
    ...(v['ca-dir'] === undefined ? {} : { caDir: v['ca-dir'] }),
    ...(v['anonymous-xds'] ? { anonymousXds: true } : {}),
    ...(v['debug-auth'] === false ? { debugAuth: false } : {}),
  };
  return { ok: true, value: { config, kube, logLevel: level as LogLevelSetting, logFormat: format } };
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    allowPositionals: true,
    allowNegative: true,
    strict: true,
    options: {
      'config-dir': { type: 'string' },
      kubeconfig: { type: 'string' },
      'in-cluster': { type: 'boolean' },
      'xds-address': { type: 'string' },
      'xds-tls-address': { type: 'string' },
      'admin-address': { type: 'string' },
      'injection-address': { type: 'string' },
      'sidecar-image': { type: 'string' },
      'token-file': { type: 'string' },
      'token-audience': { type: 'string', multiple: true },
      'trust-domain': { type: 'string' },
      'ca-dir': { type: 'string' },
      'anonymous-xds': { type: 'boolean' },
      'debug-auth': { type: 'boolean' },
      'log-level': { type: 'string' },
      'log-format': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}
