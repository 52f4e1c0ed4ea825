// weftd config sources: folders of manifests and Kubernetes API servers behind one interface.
// KubeConfig is re-exported so that main.ts needs no second import path for it.
export { KubeConfig } from '@kubernetes/client-node';
export { totalErrors } from './counters.ts';
export type { WatchMode } from './dir-watcher.ts';
export { FileSource, type FileSourceOptions } from './file-source.ts';
export { KubeRequestError } from './kube-http.ts';
export {
  apiVersionOf,
  collectionPath,
  type ResourceType,
  resourceName,
  WEFT_RESOURCES,
} from './kubernetes-resources.ts';
export { KubernetesSource, type KubernetesSourceOptions } from './kubernetes-source.ts';
export {
  CLUSTER_SCOPED_KINDS,
  type ManifestError,
  type ParsedManifest,
  type ParseManifestOptions,
  parseManifests,
} from './manifest.ts';
export { groupOf, objectKey, type ParsedKey, parseObjectKey } from './object-key.ts';
export { type ApplyResult, ObjectStore, type ObjectStoreView } from './object-store.ts';
export type {
  ChangeBatch,
  ChangeType,
  ConfigSource,
  KubeObject,
  ObjectChange,
  ObjectMeta,
  SourceCounters,
  SourceError,
  SourceErrorReason,
  SourceEvent,
  SourceListener,
  SourcePhase,
  SourceResourceStatus,
  SourceStatus,
} from './types.ts';
