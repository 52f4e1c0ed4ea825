import { describe, expect, it } from 'vitest';
import {
  nodeConflist,
  planNodes,
  pluginConfig,
  podNetns,
  resultIps,
  rewriteDocument,
  serviceVips,
  underlay,
} from './netns-topology.ts';

describe('netns topology', () => {
  it('plans nodes with short interface names, underlay and pod ranges', () => {
    const [a, b] = planNodes('wn', ['node-a', 'node-b']);
    expect(a).toMatchObject({
      netns: 'wn-node-a',
      ip4: '10.250.0.10',
      hostVeth: 'wn-ul1',
      podCidr4: '10.200.1.0/24',
    });
    expect(b).toMatchObject({
      ip6: 'fd00:250:0::11',
      podCidr6: 'fd00:200:2::/64',
      gateway6: 'fd00:200:2::1',
    });
    for (const n of [a, b]) expect(n?.hostVeth.length).toBeLessThanOrEqual(15);
    expect(() => planNodes('Bad-Prefix', ['x'])).toThrow(/prefix/);
    expect(podNetns('wn', 'demo', 'echo-v1')).toBe('wn-p-demo-echo-v1');
    // Another network: other ranges, so two clusters can live side by side.
    const [c] = planNodes('wb', ['node-a'], 1);
    expect(c).toMatchObject({ ip4: '10.250.1.10', podCidr4: '10.201.1.0/24', podCidr6: 'fd00:201:1::/64' });
    expect(underlay(1)).toMatchObject({ host4: '10.250.1.1', host6: 'fd00:250:1::1' });
    expect(() => planNodes('wb', ['x'], 10)).toThrow(/0-9/);
  });

  it("builds the node's plugin list: bridge + host-local dual stack, weft-cni chained after", () => {
    const [a] = planNodes('wn', ['node-a']);
    if (a === undefined) throw new Error('no node');
    const list = nodeConflist(a, { ipamDir: '/tmp/ipam', agentSocket: '/tmp/cni.sock' });
    expect(list.plugins.map((p) => p.type)).toEqual(['bridge', 'weft-cni']);
    const first = pluginConfig(list, 0, undefined);
    expect(first).toMatchObject({ cniVersion: '1.0.0', name: 'weft-pods', type: 'bridge' });
    expect(first).not.toHaveProperty('prevResult');
    const prev = {
      cniVersion: '1.0.0',
      ips: [{ address: '10.244.1.2/24' }, { address: 'fd00:244:1::2/64' }],
    };
    expect(pluginConfig(list, 1, prev)).toMatchObject({
      type: 'weft-cni',
      prevResult: prev,
      agent_socket: '/tmp/cni.sock',
    });
    expect(() => pluginConfig(list, 2, prev)).toThrow();
    expect(resultIps(prev)).toEqual({ ip4: '10.244.1.2', ip6: 'fd00:244:1::2' });
    expect(resultIps({})).toEqual({ ip4: undefined, ip6: undefined });
  });

  it.each([
    ['127.0.20.1', '10.96.20.1', 'fd00:96::14:1'],
    ['127.0.21.12', '10.96.21.12', 'fd00:96::15:c'],
  ])('maps the local VIP %s to %s and %s', (local, v4, v6) => {
    expect(serviceVips(local)).toEqual({ ip4: v4, ip6: v6 });
  });

  it('refuses a VIP that is not a local-mode address', () => {
    expect(() => serviceVips('10.0.0.1')).toThrow(/127\.0\.x\.y/);
  });

  it('rewrites pod and service addresses, and leaves other documents alone', () => {
    const plan = { pods: new Map([['demo/echo', { ip4: '10.244.1.5', ip6: 'fd00:244:1::5' }]]) };
    const pod = {
      kind: 'Pod',
      metadata: { name: 'echo', namespace: 'demo' },
      status: { podIP: '127.0.10.1', phase: 'Running' },
    };
    expect(rewriteDocument(pod, plan)).toEqual({
      ...pod,
      status: {
        phase: 'Running',
        podIP: '10.244.1.5',
        podIPs: [{ ip: '10.244.1.5' }, { ip: 'fd00:244:1::5' }],
      },
    });
    // A pod CNI has not set up yet has no address at all.
    const later = {
      kind: 'Pod',
      metadata: { name: 'other', namespace: 'demo' },
      status: { podIP: '127.0.10.9' },
    };
    expect(rewriteDocument(later, plan)).toEqual({ ...later, status: {} });
    const svc = { kind: 'Service', metadata: { name: 'echo' }, spec: { clusterIP: '127.0.20.1', ports: [] } };
    expect(rewriteDocument(svc, plan)).toMatchObject({
      spec: {
        clusterIP: '10.96.20.1',
        clusterIPs: ['10.96.20.1', 'fd00:96::14:1'],
        ipFamilyPolicy: 'RequireDualStack',
      },
    });
    const headless = { kind: 'Service', spec: { clusterIP: 'None' } };
    expect(rewriteDocument(headless, plan)).toBe(headless);
    const policy = { kind: 'AuthorizationPolicy', spec: {} };
    expect(rewriteDocument(policy, plan)).toBe(policy);
    expect(rewriteDocument(null, plan)).toBe(null);
  });
});
