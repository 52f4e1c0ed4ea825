// The grpc-js-xds bootstrap (gRFC A27) the SDK writes: its only xDS server is the in-process
// relay, its one certificate provider `weft` polls the files the SDK rotates.
import type { CertFilePaths } from '../certs/cert-files.ts';

/** The certificate provider instance weftd's TLS contexts name. */
export const CERT_PROVIDER_INSTANCE = 'weft';
/** grpc-js-xds looks the server Listener up as this template with `%s` = `0.0.0.0:<port>`. */
export const SERVER_LISTENER_TEMPLATE = 'xds.weft.dev/grpc/lds/inbound/%s';

export interface BootstrapInput {
  /** `127.0.0.1:<port>` of the relay. */
  readonly relayAddress: string;
  readonly namespace: string;
  readonly pod: string;
  readonly serviceAccount: string;
  readonly locality?: { readonly region?: string; readonly zone?: string; readonly subZone?: string };
  readonly certFiles: CertFilePaths;
  /** How often the provider re-reads the files. Default "1s". */
  readonly refreshInterval?: string;
  readonly sdkVersion: string;
}

/** `proxyless~<namespace>/<pod>`, admitted by weftd like a sidecar of that pod. */
export function proxylessNodeId(namespace: string, pod: string): string {
  return `proxyless~${namespace}/${pod}`;
}

export function buildBootstrap(input: BootstrapInput): Record<string, unknown> {
  const locality: Record<string, string> = {};
  if (input.locality?.region !== undefined) locality.region = input.locality.region;
  if (input.locality?.zone !== undefined) locality.zone = input.locality.zone;
  if (input.locality?.subZone !== undefined) locality.sub_zone = input.locality.subZone;
  return {
    xds_servers: [
      {
        server_uri: input.relayAddress,
        channel_creds: [{ type: 'insecure' }],
        server_features: ['xds_v3'],
      },
    ],
    node: {
      id: proxylessNodeId(input.namespace, input.pod),
      locality,
      metadata: {
        NAMESPACE: input.namespace,
        POD_NAME: input.pod,
        SERVICE_ACCOUNT: input.serviceAccount,
        WEFT_PROXYLESS_SDK_VERSION: input.sdkVersion,
      },
    },
    certificate_providers: {
      [CERT_PROVIDER_INSTANCE]: {
        plugin_name: 'file_watcher',
        config: {
          certificate_file: input.certFiles.certificateFile,
          private_key_file: input.certFiles.privateKeyFile,
          ca_certificate_file: input.certFiles.caCertificateFile,
          refresh_interval: input.refreshInterval ?? '1s',
        },
      },
    },
    server_listener_resource_name_template: SERVER_LISTENER_TEMPLATE,
    client_default_listener_resource_name_template: '%s',
  };
}
