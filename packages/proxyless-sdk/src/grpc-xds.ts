// @grpc/grpc-js-xds is loaded here and only here, by dynamic import, after the SDK has written the
// bootstrap: the package reads its environment switches when it is imported and its bootstrap
// when the first xDS channel or server is built, once per process.
import type * as XdsModule from '@grpc/grpc-js-xds';

export type GrpcXds = typeof XdsModule;

let loading: Promise<GrpcXds> | undefined;

/** Imports grpc-js-xds once and registers the `xds:` resolver, LB policies and filters. */
export function loadGrpcXds(): Promise<GrpcXds> {
  loading ??= import('@grpc/grpc-js-xds').then((m) => {
    const mod =
      (m as unknown as { register?: unknown }).register !== undefined
        ? m
        : (m as unknown as { default: GrpcXds }).default;
    mod.register();
    return mod;
  });
  return loading;
}

/** The channel/server option that gives one channel or server its own bootstrap (and XdsClient). */
export const PER_CHANNEL_BOOTSTRAP_OPTION = 'grpc.TEST_ONLY_DO_NOT_USE_IN_PROD.xds_bootstrap_config';

let processBootstrapOwner: string | undefined;

/**
 * Installs the process-wide bootstrap (GRPC_XDS_BOOTSTRAP_CONFIG). One per process: grpc-js-xds
 * caches the first bootstrap it reads.
 */
export function claimProcessBootstrap(owner: string, bootstrapJson: string): void {
  if (processBootstrapOwner !== undefined) {
    throw new Error(
      `proxyless: the process-wide xDS bootstrap is already set up by ${processBootstrapOwner}; create one client/server per process, share it, or use bootstrap: 'per-channel' (tests)`,
    );
  }
  if (process.env.GRPC_XDS_BOOTSTRAP !== undefined) {
    throw new Error(
      'proxyless: GRPC_XDS_BOOTSTRAP is set and would win over the bootstrap the SDK writes; unset it',
    );
  }
  processBootstrapOwner = owner;
  process.env.GRPC_XDS_BOOTSTRAP_CONFIG = bootstrapJson;
}
