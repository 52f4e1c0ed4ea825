// `weft dashboard`: a live graph of the mesh, served by the CLI.
export { type DashboardCommandDeps, dashboardCommand, registerDashboard } from './command.ts';
export {
  buildGraph,
  EMPTY_RATE_STATE,
  type Graph,
  type GraphEdge,
  type GraphNode,
  type MtlsState,
  type NodeMode,
  type RateState,
  type Scrape,
  type SnapshotView,
} from './graph.ts';
export { type DashboardInputs, readDashboardInputs } from './inputs.ts';
export { DENY_COLOUR, MODE_COLOURS } from './page.ts';
export {
  type Dashboard,
  type DashboardEndpoints,
  type DashboardOptions,
  DEFAULT_LISTEN,
  startDashboard,
} from './server.ts';
