// Ports, mark and uid shared by the rules, the agent and the proxies (Istio's values).

/** ztunnel's / the sidecar's outbound capture port. */
export const OUTBOUND_CAPTURE_PORT = 15001;
/** ztunnel's / the sidecar's inbound plaintext capture port. */
export const INBOUND_CAPTURE_PORT = 15006;
/** HBONE (mTLS tunnel) port: reaches the proxy's own listener, never redirected. */
export const HBONE_PORT = 15008;
/** The sidecar's own ports, never redirected inbound: admin, merged metrics, health. */
export const SIDECAR_OWN_PORTS: readonly number[] = [15000, 15008, 15020, 15021];
/** SO_MARK ztunnel puts on its own sockets inside a pod netns (1337). */
export const PROXY_MARK = 0x539;
/** The mask the mark is compared under (Istio's). */
export const PROXY_MARK_MASK = 0xfff;
/** The uid (and gid) the sidecar proxy runs as. */
export const PROXY_UID = 1337;
/** Source address the sidecar binds to reach the app over loopback (Istio's inbound passthrough). */
export const SIDECAR_INBOUND_SOURCE = { 4: '127.0.0.6', 6: '::6' } as const;

/** Annotations on the pod that exclude ports from capture. */
export const ANNOTATION_EXCLUDE_INBOUND_PORTS = 'weft.dev/exclude-inbound-ports';
export const ANNOTATION_EXCLUDE_OUTBOUND_PORTS = 'weft.dev/exclude-outbound-ports';

/** Our chains. Everything we install lives in them, plus one jump each from a built-in chain. */
export const CHAIN_PREFIX = 'WEFT_';
export const CHAINS = {
  inbound: 'WEFT_INBOUND',
  inRedirect: 'WEFT_IN_REDIRECT',
  outbound: 'WEFT_OUTBOUND',
  redirect: 'WEFT_REDIRECT',
} as const;
