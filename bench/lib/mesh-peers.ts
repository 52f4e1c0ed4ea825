// The mesh peers of bench/waypoint.ts's mutual-TLS comparison, run as their own Node processes:
//
//   node --conditions=weft-source --import tsx bench/lib/mesh-peers.ts endpoint <certs.json> <host>
//     an endpoint's HBONE inbound (what its ztunnel does): @weft/hbone's server, mutual TLS 1.3,
//     every tunnel connected to its :authority (the upstream nginx). Prints `port <n>`.
//   node ... mesh-peers.ts load <spec.json>
//     a closed-loop HTTP/1.1 load generator: `connections` keep-alive connections, each either an
//     HBONE tunnel (mutual TLS, HTTP/2 CONNECT; tunnels share one pooled TLS connection, as a
//     ztunnel's do) or a plain mutual-TLS connection, one request in flight per connection. It
//     runs `seconds` and prints one JSON line {requests, seconds, rps, errors}.
//
// The same generator drives both sides of the comparison, so the client's own cost hits both.
// bench/ has no direct dependency on @weft/hbone: it is loaded from @weft/waypoint's, which
// uses it (a package.json change would make this an ordinary import).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import { pathToFileURL } from 'node:url';

export interface CertFiles {
  readonly keyPem: string;
  readonly certChainPem: readonly string[];
  readonly trustBundlePem: string;
}

interface HboneModule {
  createCertStore(m: CertFiles): unknown;
  createHboneClient(o: { certs: unknown }): {
    connect(r: {
      via: { ip: string; port: number };
      dest: { ip: string; port: number };
      expectedIdentity: string;
    }): Promise<Duplex>;
    close(o: { graceMs: number }): Promise<void>;
  };
  createHboneServer(o: { certs: unknown; authorize: unknown }): {
    listen(a: { host: string; port: number }): Promise<{ port: number }>;
    close(o: { graceMs: number }): Promise<void>;
  };
}

/** @weft/hbone (and its testing entry), resolved from @weft/waypoint's dependencies. */
export async function loadHbone(): Promise<{ hbone: HboneModule; allowAll: unknown }> {
  const req = createRequire(new URL('../../packages/waypoint/package.json', import.meta.url));
  const main = req.resolve('@weft/hbone');
  const testing = req.resolve('@weft/hbone/testing');
  const hbone = (await import(pathToFileURL(main).href)) as HboneModule;
  const t = (await import(pathToFileURL(testing).href)) as { allowAll: unknown };
  return { hbone, allowAll: t.allowAll };
}

export interface LoadSpec {
  readonly mode: 'hbone' | 'tls';
  readonly host: string;
  readonly port: number;
  /** hbone: the tunnel's destination (service VIP:port) and the server identity to expect. */
  readonly dest?: { readonly ip: string; readonly port: number };
  readonly expectedIdentity?: string;
  readonly authority: string;
  readonly path: string;
  readonly connections: number;
  readonly seconds: number;
  readonly certs: CertFiles;
}

export interface LoadResult {
  readonly requests: number;
  readonly seconds: number;
  readonly rps: number;
  readonly errors: number;
}

const HEAD_END = Buffer.from('\r\n\r\n');

async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const { hbone } = spec.mode === 'hbone' ? await loadHbone() : { hbone: undefined };
  const client = hbone?.createHboneClient({ certs: hbone.createCertStore(spec.certs) });
  const open = (): Promise<Duplex> => {
    if (client !== undefined)
      return client.connect({
        via: { ip: spec.host, port: spec.port },
        dest: spec.dest ?? { ip: spec.host, port: spec.port },
        expectedIdentity: spec.expectedIdentity ?? '',
      });
    return new Promise((resolve, reject) => {
      const s = tlsConnect({
        host: spec.host,
        port: spec.port,
        key: spec.certs.keyPem,
        cert: spec.certs.certChainPem.join('\n'),
        ca: spec.certs.trustBundlePem,
        // SPIFFE certificates name a URI, not a host: the chain is verified, the name is not
        checkServerIdentity: () => undefined,
        minVersion: 'TLSv1.3',
      });
      s.once('secureConnect', () => resolve(s));
      s.once('error', reject);
    });
  };
  const request = Buffer.from(`GET ${spec.path} HTTP/1.1\r\nHost: ${spec.authority}\r\n\r\n`);
  let requests = 0;
  let errors = 0;
  let running = true;
  const sockets: Duplex[] = [];
  for (let i = 0; i < spec.connections; i++) {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`connection ${i + 1} did not open within 10 s`)), 10_000);
    });
    try {
      sockets.push(await Promise.race([open(), late]));
    } finally {
      clearTimeout(timer);
    }
  }
  const t0 = performance.now();
  for (const s of sockets) {
    let buf: Buffer | undefined;
    s.on('error', () => {
      errors++;
    });
    s.on('data', (c: Buffer) => {
      buf = buf === undefined ? c : Buffer.concat([buf, c]);
      for (;;) {
        const end: number = buf.indexOf(HEAD_END);
        if (end < 0) return;
        const head = buf.toString('latin1', 0, end);
        const m = /\r\ncontent-length: *(\d+)/i.exec(head);
        const total: number = end + 4 + (m === null ? 0 : Number(m[1]));
        if (buf.length < total) return;
        if (!head.startsWith('HTTP/1.1 200 ')) errors++;
        else if (running) requests++;
        buf = buf.length === total ? undefined : buf.subarray(total);
        if (running) s.write(request);
        if (buf === undefined) return;
      }
    });
    s.write(request);
  }
  await new Promise((r) => setTimeout(r, spec.seconds * 1000));
  running = false;
  const seconds = (performance.now() - t0) / 1000;
  for (const s of sockets) s.destroy();
  // the result does not depend on the tunnel's goodbye: give it a second, no more
  await Promise.race([client?.close({ graceMs: 0 }), new Promise((r) => setTimeout(r, 1000).unref())]);
  return { requests, seconds, rps: requests / seconds, errors };
}

async function main(argv: readonly string[]): Promise<void> {
  const [mode, file, host] = argv;
  if (mode === 'endpoint') {
    const { hbone, allowAll } = await loadHbone();
    const certs = JSON.parse(readFileSync(file ?? '', 'utf8')) as CertFiles;
    const server = hbone.createHboneServer({ certs: hbone.createCertStore(certs), authorize: allowAll });
    const a = await server.listen({ host: host ?? '127.0.0.1', port: 0 });
    process.stdout.write(`port ${a.port}\n`);
    process.once('SIGTERM', () => process.exit(0));
    return;
  }
  if (mode === 'load') {
    const spec = JSON.parse(readFileSync(file ?? '', 'utf8')) as LoadSpec;
    const r = await runLoad(spec);
    process.stdout.write(`${JSON.stringify(r)}\n`);
    process.exit(0);
  }
  throw new Error(`mesh-peers: unknown mode ${JSON.stringify(mode)} (endpoint | load)`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main(process.argv.slice(2));
