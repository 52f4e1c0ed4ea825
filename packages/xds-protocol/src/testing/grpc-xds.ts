// The real @grpc/grpc-js-xds for interop tests of packages that do not depend on it themselves
// (weftd): loaded on demand from here, registered once, on the same @grpc/grpc-js instance.
export type GrpcXds = typeof import('@grpc/grpc-js-xds');

let loaded: Promise<GrpcXds> | undefined;

/** `@grpc/grpc-js-xds`, with its `xds:` resolver registered. */
export function loadGrpcXds(): Promise<GrpcXds> {
  loaded ??= import('@grpc/grpc-js-xds').then((m) => {
    m.register();
    return m;
  });
  return loaded;
}

/** The channel/server option that gives one client its own bootstrap (and its own xDS client). */
export const XDS_BOOTSTRAP_OPTION = 'grpc.TEST_ONLY_DO_NOT_USE_IN_PROD.xds_bootstrap_config';
