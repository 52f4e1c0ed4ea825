// The ADS node id format lives in @weft/xds-protocol (one format/parse pair for weftd and the
// proxies); this path keeps weftd's existing imports of it working.
export {
  formatProxyId,
  PROXY_KINDS,
  type ProxyId,
  type ProxyIdResult,
  type ProxyKind,
  parseProxyId,
} from '@weft/xds-protocol';
