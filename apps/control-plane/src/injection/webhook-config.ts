// The MutatingWebhookConfiguration that points the Kubernetes API server at weftd's injection
// webhook. Pure: weftd serves it with its live trust bundle as the caBundle
// (GET /debug/injection_webhook_config on the admin port), so an installer applies it as is and
// never copies a certificate by hand.
//
// Which pods reach the webhook: pods in a namespace labelled `weft.dev/dataplane-mode: sidecar`
// and pods labelled so themselves, minus the ones opted out with `weft.dev/inject: "false"`.
// Pods the webhook does not see are never touched, and `failurePolicy: Fail` means a mesh pod is
// not created without its proxy while weftd is away (the alternative would start it unmeshed and
// let STRICT refuse its traffic later).
import { DATAPLANE_MODE_LABEL, INJECT_LABEL } from './inject.ts';

export interface WebhookConfigOptions {
  /** PEM roots that sign weftd's serving certificate. */
  readonly caBundlePem: string;
  /** The Service in front of weftd. Default weft-system/weftd. */
  readonly serviceNamespace?: string;
  readonly serviceName?: string;
  /** Default 15017. */
  readonly port?: number;
  /** Default `weft-sidecar-injector`. */
  readonly name?: string;
}

export const WEBHOOK_PATH = '/inject';

export function webhookConfiguration(options: WebhookConfigOptions): Record<string, unknown> {
  const caBundle = Buffer.from(options.caBundlePem, 'utf8').toString('base64');
  const clientConfig = {
    service: {
      namespace: options.serviceNamespace ?? 'weft-system',
      name: options.serviceName ?? 'weftd',
      port: options.port ?? 15017,
      path: WEBHOOK_PATH,
    },
    caBundle,
  };
  const notOptedOut = { key: INJECT_LABEL, operator: 'NotIn', values: ['false'] };
  const common = {
    admissionReviewVersions: ['v1'],
    sideEffects: 'None',
    failurePolicy: 'Fail',
    reinvocationPolicy: 'Never',
    timeoutSeconds: 10,
    clientConfig,
    rules: [
      {
        operations: ['CREATE'],
        apiGroups: [''],
        apiVersions: ['v1'],
        resources: ['pods'],
        scope: 'Namespaced',
      },
    ],
  };
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: {
      name: options.name ?? 'weft-sidecar-injector',
      labels: { 'app.kubernetes.io/part-of': 'weft' },
    },
    webhooks: [
      {
        // pods of a sidecar namespace (unless the pod names another mode or opts out)
        name: 'namespace.sidecar-injector.weft.dev',
        ...common,
        namespaceSelector: { matchLabels: { [DATAPLANE_MODE_LABEL]: 'sidecar' } },
        objectSelector: {
          matchExpressions: [
            notOptedOut,
            { key: DATAPLANE_MODE_LABEL, operator: 'NotIn', values: ['ambient', 'none'] },
          ],
        },
      },
      {
        // sidecar pods in any other namespace
        name: 'pod.sidecar-injector.weft.dev',
        ...common,
        namespaceSelector: {
          matchExpressions: [{ key: DATAPLANE_MODE_LABEL, operator: 'NotIn', values: ['sidecar'] }],
        },
        objectSelector: {
          matchLabels: { [DATAPLANE_MODE_LABEL]: 'sidecar' },
          matchExpressions: [notOptedOut],
        },
      },
    ],
  };
}
