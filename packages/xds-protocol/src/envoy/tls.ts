// TLS transport sockets for proxyless gRPC (gRFC A29): certificates come only from a bootstrap
// certificate provider instance (grpc-js-xds knows the `file_watcher` plugin), peers are checked
// against `match_subject_alt_names` (the only SAN matcher grpc-js-xds reads). Everything else a
// TLS context can carry (SDS, inline certificates, tls_params, SPKI pins, CRLs) is NACKed by it.
import type { TransportSocket } from '../gen/envoy/config/core/v3/base.ts';
import {
  DownstreamTlsContext,
  UpstreamTlsContext,
} from '../gen/envoy/extensions/transport_sockets/tls/v3/tls.ts';
import { ENVOY_TYPE_URL } from '../type-urls.ts';

/** What the upstream (client) side of a mesh connection checks and presents. */
export interface UpstreamTlsOptions {
  /** Certificate provider instance (bootstrap `certificate_providers` key) for identity and roots. */
  instance: string;
  /** Exact SANs (SPIFFE URIs) the server must present one of. */
  exactSans?: readonly string[];
  /** SAN prefixes (e.g. `spiffe://cluster.local/`), when the exact identities are not known. */
  prefixSans?: readonly string[];
}

export function upstreamTlsContext(options: UpstreamTlsOptions): UpstreamTlsContext {
  return UpstreamTlsContext.fromPartial({
    commonTlsContext: {
      tlsCertificateProviderInstance: { instanceName: options.instance, certificateName: '' },
      combinedValidationContext: {
        defaultValidationContext: {
          caCertificateProviderInstance: { instanceName: options.instance, certificateName: '' },
          matchSubjectAltNames: [
            ...(options.exactSans ?? []).map((exact) => ({ exact, ignoreCase: false })),
            ...(options.prefixSans ?? []).map((prefix) => ({ prefix, ignoreCase: false })),
          ],
        },
      },
    },
  });
}

/** What an xDS-enabled gRPC server presents, and whether it requires a client certificate. */
export interface DownstreamTlsOptions {
  instance: string;
  requireClientCertificate: boolean;
}

export function downstreamTlsContext(options: DownstreamTlsOptions): DownstreamTlsContext {
  return DownstreamTlsContext.fromPartial({
    commonTlsContext: {
      tlsCertificateProviderInstance: { instanceName: options.instance, certificateName: '' },
      combinedValidationContext: {
        defaultValidationContext: {
          caCertificateProviderInstance: { instanceName: options.instance, certificateName: '' },
        },
      },
    },
    requireClientCertificate: options.requireClientCertificate,
  });
}

// `envoy.transport_sockets.tls` is the only socket name grpc-js-xds's server accepts.
const TLS_SOCKET = 'envoy.transport_sockets.tls';

/** A Cluster's transport socket: mesh mTLS to the upstream. */
export function upstreamTlsSocket(options: UpstreamTlsOptions): TransportSocket {
  return {
    name: TLS_SOCKET,
    typedConfig: {
      typeUrl: ENVOY_TYPE_URL.upstreamTlsContext,
      value: UpstreamTlsContext.encode(upstreamTlsContext(options)).finish(),
    },
  };
}

/** A server filter chain's transport socket. */
export function downstreamTlsSocket(options: DownstreamTlsOptions): TransportSocket {
  return {
    name: TLS_SOCKET,
    typedConfig: {
      typeUrl: ENVOY_TYPE_URL.downstreamTlsContext,
      value: DownstreamTlsContext.encode(downstreamTlsContext(options)).finish(),
    },
  };
}
