// Clusters for proxyless gRPC clients: EDS over ADS, round robin or ring hash (gRFC A42),
// outlier detection (A50), circuit breaking by max_requests (A32), and mesh mTLS from the
// certificate provider (A29). grpc-js-xds 1.14.1 NACKs LEAST_REQUEST and the non-EDS static
// types, so the builder cannot express them.
import { Cluster, Cluster_DiscoveryType, Cluster_LbPolicy } from '../gen/envoy/config/cluster/v3/cluster.ts';
import { RoutingPriority } from '../gen/envoy/config/core/v3/base.ts';
import { ApiVersion } from '../gen/envoy/config/core/v3/config_source.ts';
import { msDuration } from './duration.ts';
import { type UpstreamTlsOptions, upstreamTlsSocket } from './tls.ts';

export type ClusterLb = { type: 'round-robin' } | { type: 'ring-hash'; minimumRingSize?: number };

/** A50 outlier detection. Durations in ms; percentages 0..100. */
export interface OutlierDetectionOptions {
  intervalMs: number;
  baseEjectionTimeMs: number;
  maxEjectionPercent: number;
  /** Carried for Envoy-style readers; grpc-js-xds ignores it (A50 has no consecutive-error ejection). */
  consecutive5xx?: number;
  /** Success-rate ejection (on by default in Envoy); 0 turns it off. */
  enforcingSuccessRate?: number;
  failurePercentage?: { threshold: number; enforcing: number; minimumHosts?: number; requestVolume?: number };
}

export interface MeshClusterOptions {
  name: string;
  /** EDS service name; default the cluster name. */
  serviceName?: string;
  lb?: ClusterLb;
  outlierDetection?: OutlierDetectionOptions;
  /** A32: concurrent requests to the cluster (DEFAULT priority). */
  maxRequests?: number;
  /** Mesh mTLS; absent: plaintext (the channel's fallback credentials). */
  tls?: UpstreamTlsOptions;
}

export function meshCluster(options: MeshClusterOptions): Cluster {
  const lb = options.lb ?? { type: 'round-robin' };
  const od = options.outlierDetection;
  return Cluster.fromPartial({
    name: options.name,
    type: Cluster_DiscoveryType.EDS,
    edsClusterConfig: {
      edsConfig: { authorities: [], ads: {}, resourceApiVersion: ApiVersion.V3 },
      serviceName: options.serviceName ?? options.name,
    },
    ...(lb.type === 'ring-hash'
      ? {
          lbPolicy: Cluster_LbPolicy.RING_HASH,
          ringHashLbConfig: {
            hashFunction: 0,
            ...(lb.minimumRingSize === undefined ? {} : { minimumRingSize: lb.minimumRingSize }),
          },
        }
      : { lbPolicy: Cluster_LbPolicy.ROUND_ROBIN }),
    ...(options.maxRequests === undefined
      ? {}
      : {
          circuitBreakers: {
            thresholds: [{ priority: RoutingPriority.DEFAULT, maxRequests: options.maxRequests }],
          },
        }),
    ...(od === undefined
      ? {}
      : {
          outlierDetection: {
            interval: msDuration(od.intervalMs),
            baseEjectionTime: msDuration(od.baseEjectionTimeMs),
            maxEjectionPercent: Math.min(100, Math.max(0, Math.round(od.maxEjectionPercent))),
            ...(od.consecutive5xx === undefined
              ? {}
              : { consecutive5xx: od.consecutive5xx, enforcingConsecutive5xx: 100 }),
            ...(od.enforcingSuccessRate === undefined
              ? {}
              : { enforcingSuccessRate: od.enforcingSuccessRate }),
            ...(od.failurePercentage === undefined
              ? {}
              : {
                  failurePercentageThreshold: od.failurePercentage.threshold,
                  enforcingFailurePercentage: od.failurePercentage.enforcing,
                  ...(od.failurePercentage.minimumHosts === undefined
                    ? {}
                    : { failurePercentageMinimumHosts: od.failurePercentage.minimumHosts }),
                  ...(od.failurePercentage.requestVolume === undefined
                    ? {}
                    : { failurePercentageRequestVolume: od.failurePercentage.requestVolume }),
                }),
          },
        }),
    ...(options.tls === undefined ? {} : { transportSocket: upstreamTlsSocket(options.tls) }),
  });
}
