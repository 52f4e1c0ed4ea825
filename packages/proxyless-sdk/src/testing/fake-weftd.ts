// A stand-in for weftd on one loopback port, as the SDK sees it: state-of-the-world and delta ADS
// (@weft/xds-protocol's server over a cache tests fill) and the CA API (@weft/ca, real signing),
// both behind bearer tokens.
import * as grpc from '@grpc/grpc-js';
import { type CertificateAuthority, createCertificateAuthority } from '@weft/ca';
import { addCertificateService, createStaticTokenAuthenticator } from '@weft/ca/server';
import { type AdsServer, createAdsServer, ResourceCache } from '@weft/xds-protocol';

export interface FakeWeftdWorkload {
  readonly token: string;
  readonly namespace: string;
  readonly serviceAccount: string;
}

export interface FakeWeftd {
  /** `127.0.0.1:<port>`: xDS and CA. */
  readonly address: string;
  readonly cache: ResourceCache;
  readonly ads: AdsServer;
  readonly ca: CertificateAuthority;
  /** The `authorization` metadata of every ADS stream opened so far. */
  readonly adsAuthorization: string[];
  close(): Promise<void>;
}

export async function startFakeWeftd(opts: {
  workloads: readonly FakeWeftdWorkload[];
  trustDomain?: string;
  ca?: CertificateAuthority;
  /** Default insecure (weftd's local-mode 15010); TLS credentials stand for its 15012. */
  credentials?: grpc.ServerCredentials;
}): Promise<FakeWeftd> {
  const ca =
    opts.ca ?? (await createCertificateAuthority({ trustDomain: opts.trustDomain ?? 'cluster.local' }));
  const authenticator = await createStaticTokenAuthenticator({
    text: opts.workloads.map((w) => `${w.token} ${w.namespace} ${w.serviceAccount}`).join('\n'),
  });
  const tokens = new Set(opts.workloads.map((w) => w.token));
  const cache = new ResourceCache({ name: 'fake-weftd' });
  const ads = createAdsServer({ cache });
  const adsAuthorization: string[] = [];
  const server = new grpc.Server();
  const implementation: grpc.UntypedServiceImplementation = {};
  for (const [name, handler] of Object.entries(ads.implementation)) {
    implementation[name] = ((call: grpc.ServerDuplexStream<unknown, unknown>) => {
      const auth = String(call.metadata.get('authorization')[0] ?? '');
      adsAuthorization.push(auth);
      if (!tokens.has(auth.replace(/^Bearer /, ''))) {
        call.on('error', () => {});
        call.emit('error', { code: grpc.status.UNAUTHENTICATED, details: 'bearer token required' });
        return;
      }
      (handler as grpc.handleBidiStreamingCall<unknown, unknown>)(call);
    }) as grpc.UntypedHandleCall;
  }
  server.addService(ads.service, implementation);
  addCertificateService(server, { ca, authenticators: [authenticator] });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', opts.credentials ?? grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  return {
    address: `127.0.0.1:${port}`,
    cache,
    ads,
    ca,
    adsAuthorization,
    async close() {
      ads.close();
      authenticator.close?.();
      server.forceShutdown();
    },
  };
}
