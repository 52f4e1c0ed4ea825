// Flags both gRPC example binaries share: how to reach weftd and who this pod is.
import { readFile } from 'node:fs/promises';
import { type AuthzPolicy, compile, parseManifests } from '@weft/policy';
import type { ProxylessOptions } from '@weft/proxyless-sdk';

export const proxylessFlagSpec = {
  pod: { type: 'string' },
  'service-account': { type: 'string' },
  'xds-address': { type: 'string', default: '127.0.0.1:15010' },
  'ca-address': { type: 'string' },
  'token-file': { type: 'string' },
  token: { type: 'string' },
  'trust-domain': { type: 'string' },
  dir: { type: 'string' },
  'weftd-ca-file': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const PROXYLESS_FLAGS_HELP = `  --pod <ns/name>            this pod (required)
  --service-account <name>   its service account (required)
  --xds-address <host:port>  weftd's xDS (default 127.0.0.1:15010)
  --ca-address <host:port>   weftd's CA (default: --xds-address)
  --token-file <path>        the pod's service-account token (or --token <text>)
  --trust-domain <td>        default cluster.local
  --dir <path>               where the bootstrap and certificates go (default a temp dir)
  --weftd-ca-file <path>     reach weftd over TLS, trusting these roots`;

export type ProxylessFlagValues = {
  [K in keyof typeof proxylessFlagSpec]?: (typeof proxylessFlagSpec)[K]['type'] extends 'boolean'
    ? boolean
    : string;
};

/** Flags -> SDK options; an error message when a required flag is missing. */
export function proxylessOptions(v: ProxylessFlagValues): ProxylessOptions | string {
  if (v.pod === undefined || !/^[^/]+\/[^/]+$/.test(v.pod)) return '--pod <namespace>/<name> is required';
  if (v['service-account'] === undefined) return '--service-account is required';
  if (v['token-file'] === undefined && v.token === undefined) return '--token-file (or --token) is required';
  return {
    pod: v.pod,
    serviceAccount: v['service-account'],
    xdsAddress: v['xds-address'] ?? '127.0.0.1:15010',
    ...(v['ca-address'] !== undefined ? { caAddress: v['ca-address'] } : {}),
    ...(v['token-file'] !== undefined ? { tokenFile: v['token-file'] } : {}),
    ...(v.token !== undefined ? { token: v.token } : {}),
    ...(v['trust-domain'] !== undefined ? { trustDomain: v['trust-domain'] } : {}),
    ...(v.dir !== undefined ? { dir: v.dir } : {}),
    ...(v['weftd-ca-file'] !== undefined ? { tls: { rootCertFile: v['weftd-ca-file'] } } : {}),
  };
}

/**
 * The AuthorizationPolicies of a YAML/JSON manifest file, compiled by @weft/policy, for
 * `--policy-file`: every policy in the file applies to this server (its selectors are not
 * consulted: the file is this pod's). Without the flag the server follows weftd's view.
 */
export async function policiesFromFile(file: string): Promise<AuthzPolicy[]> {
  const { objects, errors } = parseManifests(await readFile(file, 'utf8'), file);
  const compiled = compile(objects);
  const problems = [
    ...errors.map((e) => e.message),
    ...compiled.errors.map((e) => `${e.path}: ${e.message}`),
  ];
  if (problems.length > 0) throw new Error(`${file}: ${problems.join('; ')}`);
  return Object.values(compiled.snapshot.authorizationPolicies);
}
