// Test helpers for packages that build on HBONE (ztunnel, waypoint, sidecar): an echo upstream,
// stream helpers, ready-made authorizers and a raw HTTP/2 frame writer for hostile-peer tests.
// Certificates come from @weft/ca/testing; wrap them with `createCertStore`.
export { encodeFrame, FRAME, H2_PREFACE, settingsFrame } from './frames.ts';
export {
  allowAll,
  denyAll,
  type EchoServer,
  readAll,
  startEchoServer,
  waitFor,
} from './helpers.ts';
