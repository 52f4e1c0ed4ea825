import { describe, expect, it } from 'vitest';
import { webhookConfiguration } from './webhook-config.ts';

type Obj = Record<string, unknown>;
type Selector = {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values: string[] }[];
};

// A label selector evaluated as the API server does (the subset the configuration uses).
function matches(sel: Selector | undefined, labels: Record<string, string>): boolean {
  if (sel === undefined) return true;
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of sel.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, e.key);
    const value = labels[e.key] as string;
    if (e.operator === 'In' && !(has && e.values.includes(value))) return false;
    if (e.operator === 'NotIn' && has && e.values.includes(value)) return false;
  }
  return true;
}

function reaches(cfg: Obj, ns: Record<string, string>, pod: Record<string, string>): boolean {
  const hooks = cfg.webhooks as { namespaceSelector?: Selector; objectSelector?: Selector }[];
  return hooks.some((h) => matches(h.namespaceSelector, ns) && matches(h.objectSelector, pod));
}

describe('webhookConfiguration', () => {
  const cfg = webhookConfiguration({
    caBundlePem: '-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n',
  });

  it('points at weftd on 15017 /inject with the trust bundle as caBundle, v1 reviews, fail closed', () => {
    expect(cfg.kind).toBe('MutatingWebhookConfiguration');
    const hooks = cfg.webhooks as Obj[];
    expect(hooks).toHaveLength(2);
    for (const h of hooks) {
      const cc = h.clientConfig as { service: Obj; caBundle: string };
      expect(cc.service).toEqual({ namespace: 'weft-system', name: 'weftd', port: 15017, path: '/inject' });
      expect(Buffer.from(cc.caBundle, 'base64').toString()).toContain('BEGIN CERTIFICATE');
      expect(h.admissionReviewVersions).toEqual(['v1']);
      expect(h.sideEffects).toBe('None');
      expect(h.failurePolicy).toBe('Fail');
    }
    expect(new Set(hooks.map((h) => h.name)).size).toBe(2);
  });

  const M = 'weft.dev/dataplane-mode';
  it.each([
    ['sidecar namespace, plain pod', { [M]: 'sidecar' }, {}, true],
    ['sidecar namespace, pod opts out', { [M]: 'sidecar' }, { 'weft.dev/inject': 'false' }, false],
    ['sidecar namespace, ambient pod', { [M]: 'sidecar' }, { [M]: 'ambient' }, false],
    ['sidecar namespace, pod with mode none', { [M]: 'sidecar' }, { [M]: 'none' }, false],
    ['plain namespace, sidecar pod', {}, { [M]: 'sidecar' }, true],
    ['ambient namespace, sidecar pod', { [M]: 'ambient' }, { [M]: 'sidecar' }, true],
    ['plain namespace, sidecar pod opted out', {}, { [M]: 'sidecar', 'weft.dev/inject': 'false' }, false],
    ['plain namespace, plain pod', {}, {}, false],
    ['ambient namespace, plain pod', { [M]: 'ambient' }, {}, false],
  ])('%s -> reaches the webhook: %s', (_name, ns, pod, want) => {
    expect(reaches(cfg, ns, pod)).toBe(want);
  });
});
