// How the CLI reaches a running mesh: weftd's admin API (with a weft-system token for /debug/*)
// and each proxy's admin and metrics ports, named in the demo's endpoints file.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { CliError, EXIT, oneLine, unreachable, usageError } from './errors.ts';
import type { OutputFormat } from './format.ts';
import type { Io } from './io.ts';

export const DEFAULT_WEFTD = 'http://127.0.0.1:15014';
export const DEFAULT_ENDPOINTS = '.weft/local/endpoints.json';
const TIMEOUT_MS = 3000;

export interface GlobalOptions {
  readonly weftd?: string;
  readonly token?: string;
  readonly tokenFile?: string;
  readonly endpoints?: string;
  readonly output: OutputFormat;
}

export type ProxyKind = 'ztunnel' | 'waypoint' | 'sidecar';

/** One proxy the endpoints file names. `id` is weftd's proxy id (`ztunnel~node-a`). */
export interface ProxyEndpoint {
  readonly name: string;
  readonly kind: ProxyKind;
  readonly id: string;
  readonly admin: string;
  readonly metrics: string;
}

export interface EndpointsFile {
  readonly weftd?: { readonly admin?: string };
  readonly nodes?: readonly { name: string; admin: string; metrics: string }[];
  readonly waypoints?: readonly { pod: string; gateway: string; admin: string; metrics: string }[];
  readonly sidecars?: readonly { pod: string; admin: string; metrics: string }[];
  readonly pods?: readonly { name: string; namespace: string }[];
  readonly configDir?: string;
  readonly logsDir?: string;
}

export interface Mesh {
  readonly weftd: string;
  readonly endpointsPath: string;
  /** The endpoints file, or undefined when there is none. */
  endpoints(): EndpointsFile | undefined;
  proxies(): ProxyEndpoint[];
  /** A proxy by its name (`node-a`, `ztunnel-node-a`, `waypoint-0`, `sidecar-echo`) or weftd id. */
  proxy(name: string): ProxyEndpoint;
  /** weftd admin GET; `/debug/*` sends the token. */
  weftdJson<T>(path: string): Promise<T>;
  weftdText(path: string): Promise<string>;
  getJson<T>(url: string, what: string): Promise<T>;
  getText(url: string, what: string): Promise<string>;
}

export function createMesh(opts: GlobalOptions, io: Io): Mesh {
  const endpointsPath = resolve(io.cwd, opts.endpoints ?? io.env.WEFT_ENDPOINTS ?? DEFAULT_ENDPOINTS);
  let cached: EndpointsFile | undefined | null = null;
  const endpoints = (): EndpointsFile | undefined => {
    if (cached !== null) return cached;
    if (!existsSync(endpointsPath)) {
      cached = undefined;
      return cached;
    }
    try {
      cached = JSON.parse(readFileSync(endpointsPath, 'utf8')) as EndpointsFile;
    } catch (err) {
      throw usageError(`${endpointsPath}: not a JSON endpoints file (${oneLine(err)})`);
    }
    return cached;
  };
  const weftd = (opts.weftd ?? io.env.WEFT_ADMIN ?? endpoints()?.weftd?.admin ?? DEFAULT_WEFTD).replace(
    /\/$/,
    '',
  );
  const token = (): string | undefined => {
    if (opts.token !== undefined) return opts.token;
    if (opts.tokenFile !== undefined) {
      try {
        return readFileSync(resolve(io.cwd, opts.tokenFile), 'utf8').trim();
      } catch (err) {
        throw usageError(`--token-file ${opts.tokenFile}: ${oneLine(err)}`);
      }
    }
    if (io.env.WEFT_TOKEN !== undefined && io.env.WEFT_TOKEN !== '') return io.env.WEFT_TOKEN;
    const tokens = join(dirname(endpointsPath), 'tokens.txt');
    if (!existsSync(tokens)) return undefined;
    return firstSystemToken(readFileSync(tokens, 'utf8'));
  };
  const proxies = (): ProxyEndpoint[] => proxiesOf(endpoints());
  const get = async (url: string, what: string, headers: Record<string, string> = {}): Promise<Response> => {
    let res: Response;
    try {
      res = await fetch(url, { headers, signal: AbortSignal.timeout(TIMEOUT_MS) });
    } catch (err) {
      const c = (err as { cause?: { code?: string; errors?: { code?: string }[] } }).cause;
      const cause = c?.code ?? c?.errors?.[0]?.code ?? oneLine(err);
      throw unreachable(`cannot reach ${what} at ${url} (${cause}); is the mesh running? (pnpm demo)`);
    }
    if (res.status === 401 || res.status === 403)
      throw new CliError(
        EXIT.usage,
        `${what} refused ${url} (${res.status}): pass a weft-system token with --token, --token-file or WEFT_TOKEN`,
      );
    if (!res.ok) throw unreachable(`${what} answered ${res.status} for ${url}`);
    return res;
  };
  const auth = (path: string): Record<string, string> => {
    const t = path.startsWith('/debug/') ? token() : undefined;
    return t !== undefined ? { authorization: `Bearer ${t}` } : {};
  };
  const mesh: Mesh = {
    weftd,
    endpointsPath,
    endpoints,
    proxies,
    proxy(name) {
      const all = proxies();
      const found = all.find(
        (p) =>
          p.name === name || p.id === name || `${p.kind}-${p.name}` === name || p.id.endsWith(`/${name}`),
      );
      if (found === undefined) {
        if (all.length === 0)
          throw unreachable(
            `no proxies known: ${endpointsPath} is missing; start the demo (pnpm demo) or pass --endpoints`,
          );
        throw usageError(`unknown proxy ${name}; known: ${all.map((p) => p.name).join(', ')}`);
      }
      return found;
    },
    async weftdJson<T>(path: string) {
      const res = await get(`${weftd}${path}`, 'weftd', auth(path));
      return (await res.json()) as T;
    },
    async weftdText(path) {
      return (await get(`${weftd}${path}`, 'weftd', auth(path))).text();
    },
    async getJson<T>(url: string, what: string) {
      return (await (await get(url, what)).json()) as T;
    },
    async getText(url, what) {
      return (await get(url, what)).text();
    },
  };
  return mesh;
}

/** The first `weft-system` token of a tokens file (`<token> <namespace> <sa> [node]`). */
export function firstSystemToken(text: string): string | undefined {
  for (const line of text.split('\n')) {
    const [tok, ns] = line.trim().split(/\s+/);
    if (tok !== undefined && !tok.startsWith('#') && ns === 'weft-system') return tok;
  }
  return undefined;
}

export function proxiesOf(file: EndpointsFile | undefined): ProxyEndpoint[] {
  if (file === undefined) return [];
  const podNs = new Map((file.pods ?? []).map((p) => [p.name, p.namespace]));
  return [
    ...(file.nodes ?? []).map((n) => ({
      name: n.name,
      kind: 'ztunnel' as const,
      id: `ztunnel~${n.name}`,
      admin: n.admin,
      metrics: n.metrics,
    })),
    ...(file.waypoints ?? []).map((w) => ({
      name: w.pod,
      kind: 'waypoint' as const,
      id: `waypoint~${w.gateway}`,
      admin: w.admin,
      metrics: w.metrics,
    })),
    ...(file.sidecars ?? []).map((s) => ({
      name: s.pod,
      kind: 'sidecar' as const,
      id: `sidecar~${podNs.get(s.pod) ?? 'default'}/${s.pod}`,
      admin: s.admin,
      metrics: s.metrics,
    })),
  ];
}
