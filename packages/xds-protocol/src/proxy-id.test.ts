// The ADS node id: one format/parse pair, shared by the proxies (format) and weftd (parse).
import { describe, expect, it } from 'vitest';
import { formatProxyId, type ProxyId, parseProxyId } from './proxy-id.ts';

describe('parseProxyId', () => {
  it.each([
    ['ztunnel~node-a', undefined, { kind: 'ztunnel', node: 'node-a' }],
    ['ztunnel~node-a', { NODE_NAME: 'node-a' }, { kind: 'ztunnel', node: 'node-a' }],
    ['waypoint~shop/waypoint', undefined, { kind: 'waypoint', namespace: 'shop', name: 'waypoint' }],
    ['sidecar~legacy/client-7d9f', undefined, { kind: 'sidecar', namespace: 'legacy', name: 'client-7d9f' }],
    ['proxyless~demo/echo-0', undefined, { kind: 'proxyless', namespace: 'demo', name: 'echo-0' }],
  ])('%s is accepted', (id, metadata, expected) => {
    expect(parseProxyId(id, metadata)).toEqual({ ok: true, value: expected });
  });

  it.each([
    ['', 'is not "<kind>~<name>"'],
    ['node-a', 'is not "<kind>~<name>"'],
    ['envoy~node-a', 'kind "envoy" is not one of'],
    ['ztunnel~', 'node name "" is not valid'],
    ['ztunnel~Node_A', 'node name "Node_A" is not valid'],
    ['ztunnel~a/b', 'node name "a/b" is not valid'],
    ['waypoint~shop', 'expected waypoint~<namespace>/<name>'],
    ['sidecar~a/b/c', 'expected sidecar~<namespace>/<name>'],
    ['proxyless~demo', 'expected proxyless~<namespace>/<name>'],
    ['proxyless~127.0.0.1~echo.default', 'expected proxyless~<namespace>/<name>'],
    [`ztunnel~${'x'.repeat(300)}`, 'is not valid'],
  ])('%j is refused: %s', (id, error) => {
    const r = parseProxyId(id);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toContain(error);
  });

  it('refuses metadata that disagrees with the id', () => {
    expect(parseProxyId('ztunnel~node-a', { NODE_NAME: 'node-b' })).toMatchObject({ ok: false });
  });
});

describe('formatProxyId', () => {
  it.each<[ProxyId, string]>([
    [{ kind: 'ztunnel', node: 'node-a' }, 'ztunnel~node-a'],
    [{ kind: 'waypoint', namespace: 'shop', name: 'waypoint' }, 'waypoint~shop/waypoint'],
    [{ kind: 'sidecar', namespace: 'legacy', name: 'client-7d9f' }, 'sidecar~legacy/client-7d9f'],
    [{ kind: 'proxyless', namespace: 'demo', name: 'echo-0' }, 'proxyless~demo/echo-0'],
  ])('%j is %s, and parses back to itself', (id, text) => {
    expect(formatProxyId(id)).toBe(text);
    expect(parseProxyId(formatProxyId(id))).toEqual({ ok: true, value: id });
  });
});
