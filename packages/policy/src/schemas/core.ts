// core/v1 objects, reduced to what the mesh reads. Unknown fields are dropped, not rejected:
// these objects are written by Kubernetes and carry much more than the mesh cares about.
import { z } from 'zod';
import { dnsLabel, dnsSubdomain, labels, objectMeta, port, typeMeta } from './common.ts';

const ipString = z.string().max(64);

export const namespaceSchema = z.object({
  ...typeMeta(['v1'], 'Namespace'),
  metadata: objectMeta.extend({ name: dnsLabel }),
  status: z.object({ phase: z.string().optional() }).optional(),
});

const containerPort = z.object({
  name: z.string().max(15).optional(),
  containerPort: port,
  protocol: z.enum(['TCP', 'UDP', 'SCTP']).optional(),
});

const container = z.object({
  name: z.string().max(253),
  ports: z.array(containerPort).optional(),
  restartPolicy: z.string().optional(),
});

export const podSchema = z.object({
  ...typeMeta(['v1'], 'Pod'),
  spec: z
    .object({
      nodeName: z.string().max(253).optional(),
      serviceAccountName: dnsSubdomain.optional(),
      hostNetwork: z.boolean().optional(),
      containers: z.array(container).optional(),
      initContainers: z.array(container).optional(),
    })
    .optional(),
  status: z
    .object({
      phase: z.enum(['Pending', 'Running', 'Succeeded', 'Failed', 'Unknown']).optional(),
      podIP: ipString.optional(),
      podIPs: z.array(z.object({ ip: ipString })).optional(),
      hostIP: ipString.optional(),
      conditions: z.array(z.object({ type: z.string(), status: z.string() })).optional(),
    })
    .optional(),
});

const servicePort = z.object({
  name: z.string().max(63).optional(),
  port,
  targetPort: z
    .union([port, z.string().min(1).max(15)], { error: 'targetPort must be a port number or a port name' })
    .optional(),
  protocol: z.enum(['TCP', 'UDP', 'SCTP']).optional(),
  appProtocol: z.string().max(253).optional(),
});

export const serviceSchema = z.object({
  ...typeMeta(['v1'], 'Service'),
  spec: z
    .object({
      type: z.enum(['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName']).optional(),
      clusterIP: z.string().max(64).optional(),
      clusterIPs: z.array(z.string().max(64)).optional(),
      ports: z.array(servicePort).optional(),
      selector: labels.optional(),
      externalName: z.string().max(253).optional(),
    })
    .optional(),
});

export const serviceAccountSchema = z.object({
  ...typeMeta(['v1'], 'ServiceAccount'),
});

export type NamespaceResource = z.infer<typeof namespaceSchema>;
export type PodResource = z.infer<typeof podSchema>;
export type ServiceResource = z.infer<typeof serviceSchema>;
export type ServiceAccountResource = z.infer<typeof serviceAccountSchema>;
