// Vocabulary shared by metrics and access logs.

/** Which proxy reports: the client side, the server side, or a waypoint in between. */
export type Reporter = 'source' | 'destination' | 'waypoint';

/** Istio's connection_security_policy values. */
export type ConnectionSecurityPolicy = 'mutual_tls' | 'none' | 'unknown';
