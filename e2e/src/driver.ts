// What a scenario may ask of a cluster. The local (loopback), netns and kind drivers each
// implement it, so the same scenarios run on all three.

import type { GrpcWireResult } from './grpc-wire.ts';

export interface HttpResult {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/** A call either got an HTTP answer or failed at the connection level (refused, reset, timed out). */
export type CallResult =
  | { readonly ok: true; readonly response: HttpResult }
  | { readonly ok: false; readonly error: string };

export interface RequestOptions {
  readonly method?: string;
  readonly headers?: Record<string, string>;
  readonly body?: string;
  readonly timeoutMs?: number;
}

/** What a proxyless gRPC client saw over a batch of calls (the example client's JSON tally). */
export interface GrpcTally {
  readonly calls: number;
  readonly ok: number;
  /** `<pod> <version>` -> replies. */
  readonly served: Record<string, number>;
  /** gRPC status name -> count. */
  readonly errors: Record<string, number>;
  readonly lastError?: string;
}

export interface GrpcCallOptions {
  readonly calls?: number;
  readonly method?: 'Echo' | 'Admin';
}

export interface MeshDriver {
  readonly name: 'local' | 'netns' | 'kind';
  /** Starts the control plane, the node proxies and the example workloads; resolves when all are ready. */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Adds or replaces a manifest file (YAML, may hold several documents) in the cluster's config. */
  apply(name: string, yaml: string): Promise<void>;
  /** Removes what `apply(name, …)` added. */
  remove(name: string): Promise<void>;
  /** An HTTP request sent by the workload `fromPod` (in namespace demo) through its mesh data plane. */
  request(fromPod: string, url: string, opts?: RequestOptions): Promise<CallResult>;
  /**
   * A plaintext HTTP request from outside the mesh straight to a workload's port, as a legacy
   * client would send it: the destination's data plane sees a caller with no mesh identity.
   */
  plaintextRequest(toPod: string, port: number, path: string): Promise<CallResult>;
  /**
   * Prometheus text from a component's metrics port: "weftd", a node name for its ztunnel, a
   * waypoint pod's name (e.g. "waypoint-0"), or a sidecar pod's name for its sidecar.
   */
  metrics(component: string): Promise<string>;
  /** Access-log lines a node's ztunnel (or, by pod name, a waypoint or a pod's sidecar) wrote so far. */
  accessLog(node: string): Promise<string[]>;
  /**
   * A kept-alive HTTP/1.1 connection from `fromPod` to `url`'s host through the mesh, for checks
   * that an established connection survives a change (e.g. the control plane going away).
   */
  openConnection(fromPod: string, url: string): Promise<MeshConnection>;
  /**
   * Stops a component ("weftd", a node name for its ztunnel, a waypoint pod's name, or a sidecar
   * pod's name for its sidecar) and starts it again later.
   */
  stopComponent(name: string): Promise<void>;
  /** Kills a component as `kill -9` would (SIGKILL: no shutdown runs); start it with startComponent. */
  killComponent(name: string): Promise<void>;
  /** Starts a stopped or killed component; resolves once its readiness endpoint answers 200. */
  startComponent(name: string): Promise<void>;
  /**
   * gRPC calls from a proxyless pod (its app linked with @weft/proxyless-sdk) to `target`
   * (`host:port` of a service), through xDS from weftd, in one client process.
   */
  grpcCalls(fromPod: string, target: string, opts?: GrpcCallOptions): Promise<GrpcTally>;
  /**
   * One gRPC call (the examples' Echo service) from a pod's plain app, h2c without TLS, through
   * the pod's data plane (its ztunnel or sidecar), as an app that knows nothing of the mesh sends it.
   */
  grpcPlainCall(fromPod: string, target: string, method?: 'Echo' | 'Admin'): Promise<GrpcWireResult>;
  /** A pod's address (its first pod IP), for scenarios that call a pod no Service selects. */
  podIp(pod: string): string;
  /** The node a pod runs on: the name `metrics` takes for the ztunnel serving an ambient pod. */
  nodeOf(pod: string): string;
  /** Where the driver keeps its endpoints file, logs and config. */
  readonly workDir: string;
}

export interface MeshConnection {
  /** Sends one GET on the kept connection; rejects if the connection is gone. */
  get(path: string): Promise<HttpResult>;
  close(): void;
}

/** Prints one step of a scenario: the demo shows these, tests keep them in their output. */
export type StepLogger = (line: string) => void;
