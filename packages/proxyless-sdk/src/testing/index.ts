// Fakes and builders for tests of proxyless apps: a fake weftd (ADS + CA on one port) and the
// Envoy resources weftd serves to proxyless servers and clients, hand-built.
export { type FakeWeftd, type FakeWeftdWorkload, startFakeWeftd } from './fake-weftd.ts';
export {
  proxylessMtlsCluster,
  proxylessServerListener,
  type ServerListenerOptions,
  serverListenerName,
} from './resources.ts';
export {
  DOWNSTREAM_TLS_CONTEXT_TYPE,
  downstreamTlsContext,
  UPSTREAM_TLS_CONTEXT_TYPE,
  upstreamTlsContext,
} from './tls-context.ts';
