// @weft/waypoint: the waypoint, a composition root: HBONE inbound, @weft/l7's engine, endpoints
// reached over HBONE, admin, metrics and readiness; config from weftd over xDS or a manifest file.
export {
  createWaypoint,
  type ListenAddress,
  type Waypoint,
  type WaypointAddresses,
  type WaypointConfig,
  type WaypointDeps,
} from './server/waypoint.ts';
