// The Kubernetes resources weftd reads, and their REST paths.

export interface ResourceType {
  /** '' for the core group */
  readonly group: string;
  readonly version: string;
  readonly kind: string;
  /** the REST resource name */
  readonly plural: string;
  readonly namespaced: boolean;
}

export const WEFT_RESOURCES: readonly ResourceType[] = [
  { group: '', version: 'v1', kind: 'Namespace', plural: 'namespaces', namespaced: false },
  { group: '', version: 'v1', kind: 'Pod', plural: 'pods', namespaced: true },
  { group: '', version: 'v1', kind: 'Service', plural: 'services', namespaced: true },
  { group: '', version: 'v1', kind: 'ServiceAccount', plural: 'serviceaccounts', namespaced: true },
  {
    group: 'security.istio.io',
    version: 'v1',
    kind: 'AuthorizationPolicy',
    plural: 'authorizationpolicies',
    namespaced: true,
  },
  {
    group: 'security.istio.io',
    version: 'v1',
    kind: 'PeerAuthentication',
    plural: 'peerauthentications',
    namespaced: true,
  },
  {
    group: 'gateway.networking.k8s.io',
    version: 'v1',
    kind: 'Gateway',
    plural: 'gateways',
    namespaced: true,
  },
  {
    group: 'gateway.networking.k8s.io',
    version: 'v1',
    kind: 'HTTPRoute',
    plural: 'httproutes',
    namespaced: true,
  },
  {
    group: 'gateway.networking.k8s.io',
    version: 'v1',
    kind: 'GRPCRoute',
    plural: 'grpcroutes',
    namespaced: true,
  },
  {
    group: 'gateway.networking.k8s.io',
    version: 'v1alpha2',
    kind: 'TCPRoute',
    plural: 'tcproutes',
    namespaced: true,
  },
  {
    group: 'networking.istio.io',
    version: 'v1',
    kind: 'DestinationRule',
    plural: 'destinationrules',
    namespaced: true,
  },
  {
    group: 'networking.istio.io',
    version: 'v1',
    kind: 'VirtualService',
    plural: 'virtualservices',
    namespaced: true,
  },
];

export function apiVersionOf(resource: ResourceType): string {
  return resource.group === '' ? resource.version : `${resource.group}/${resource.version}`;
}

/** `group/version/plural`, the name used in status and errors (`/v1/pods` for core). */
export function resourceName(resource: ResourceType): string {
  return `${resource.group}/${resource.version}/${resource.plural}`;
}

/** The cluster-wide collection path: `/api/v1/pods`, `/apis/<group>/<version>/<plural>`. */
export function collectionPath(resource: ResourceType): string {
  return resource.group === ''
    ? `/api/${resource.version}/${resource.plural}`
    : `/apis/${resource.group}/${resource.version}/${resource.plural}`;
}
