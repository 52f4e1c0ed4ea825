import { KubeConfig } from '@kubernetes/client-node';

/**
 * A KubeConfig pointing at a plain-HTTP test server. client-node refuses http:// clusters unless
 * skipTLSVerify is set, so it is.
 */
export function kubeConfigFor(server: { readonly url: string }, token = 'test-token'): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'fake', server: server.url, skipTLSVerify: true }],
    users: [{ name: 'weftd', token }],
    contexts: [{ name: 'fake', cluster: 'fake', user: 'weftd' }],
    currentContext: 'fake',
  });
  return kc;
}
