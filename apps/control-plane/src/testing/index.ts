// Test doubles for weftd and for e2e scenarios that drive it.
export {
  bearer,
  connectProxy,
  startTestControlPlane,
  TEST_TOKEN_FILE,
  TEST_TOKENS,
  type TestControlPlane,
  type TestProxy,
  testMesh,
  toYaml,
  waypointMesh,
  writeManifest,
} from './control-plane.ts';
export {
  CORE_FAKE_RESOURCES,
  FakeApiServer,
  type FakeApiServerOptions,
  type FakeResource,
  type RecordedRequest,
} from './fake-apiserver.ts';
export { kubeConfigFor } from './kubeconfig.ts';
export { SourceRecorder, waitFor } from './recorder.ts';
