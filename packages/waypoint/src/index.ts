// @weft/waypoint: the waypoint, a composition root: HBONE inbound, @weft/l7's engine, endpoints
// reached over HBONE, admin, metrics and readiness; config from weftd over xDS or a manifest file.
export { type ConfigSource, staticConfigSource } from './server/config-source.ts';
export { loadManifests, type ManifestLoad } from './server/manifests.ts';
export {
  createWaypoint,
  type ListenAddress,
  type Waypoint,
  type WaypointAddresses,
  type WaypointConfig,
  type WaypointDeps,
} from './server/waypoint.ts';
export { type XdsConfigSource, type XdsConfigSourceOptions, xdsConfigSource } from './server/xds-source.ts';
