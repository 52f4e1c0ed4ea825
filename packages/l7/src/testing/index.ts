// @weft/l7/testing: fakes and fixtures for tests of the engine and of the proxies built on it.

export {
  H2_ERROR,
  headerBlock,
  headerBlockFrames,
  headersFrame,
  openAndCancelBurst,
  type RawField,
  type RawH2Outcome,
  rawH2Exchange,
  readFrames,
  requestFields,
  rstStreamFrame,
} from '../test-support/h2-raw.ts';
export { CLIENT, type EndpointSpec, SHOP, serviceWith, WEB_HOST, WEB_VIP } from '../test-support/mesh.ts';
export {
  fakeFilterContext,
  makeRequest,
  type RequestSpec,
  recorder,
  stateOf,
} from '../test-support/requests.ts';
export {
  compileMesh,
  echoHandler,
  type H2Upstream,
  type HttpUpstream,
  httpRequest,
  rawExchange,
  type SimpleResponse,
  startH2Upstream,
  startHttpUpstream,
  startTestProxy,
  statusOf,
  type TestProxy,
  type UpstreamRequestRecord,
} from './harness.ts';
