// The weft.v1 -> domain conversion ztunnel's xDS client decodes with. It lives in
// @weft/xds-protocol/convert (one module for every proxy); until that subpath is available the
// binary runs without xDS and says so in its log.
import type { XdsResourceTypes } from './xds-source.ts';

export function defaultXdsTypes(): XdsResourceTypes | undefined {
  return undefined;
}
