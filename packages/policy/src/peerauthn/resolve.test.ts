import { describe, expect, it } from 'vitest';
import { compile } from '../compile/compile.ts';
import type { MtlsMode } from '../snapshot.ts';
import { namespace, peerAuthentication, pod } from '../testing/index.ts';
import { resolvePeerAuthentication } from './resolve.ts';

type PA = NonNullable<Parameters<typeof peerAuthentication>[1]>;
type Mode = NonNullable<PA['mode']>;
const mesh = (mode: Mode) => peerAuthentication('mesh', { namespace: 'weft-system', mode });
const ns = (mode: Mode, name = 'ns') => peerAuthentication(name, { namespace: 'app', mode });
const wl = (o: PA) => peerAuthentication('wl', { namespace: 'app', selector: { app: 'web' }, ...o });

describe('resolvePeerAuthentication', () => {
  const table: [string, unknown[], number | undefined, MtlsMode][] = [
    ['default is PERMISSIVE', [], undefined, 'PERMISSIVE'],
    ['mesh STRICT', [mesh('STRICT')], undefined, 'STRICT'],
    ['namespace overrides mesh', [mesh('STRICT'), ns('PERMISSIVE')], undefined, 'PERMISSIVE'],
    ['UNSET namespace inherits mesh', [mesh('STRICT'), ns('UNSET')], undefined, 'STRICT'],
    [
      'workload overrides namespace',
      [mesh('PERMISSIVE'), ns('STRICT'), wl({ mode: 'DISABLE' })],
      undefined,
      'DISABLE',
    ],
    [
      'workload without mode inherits',
      [ns('STRICT'), wl({ portLevelMtls: { '9000': 'DISABLE' } })],
      undefined,
      'STRICT',
    ],
    [
      'port overrides workload',
      [ns('STRICT'), wl({ mode: 'STRICT', portLevelMtls: { '9000': 'PERMISSIVE' } })],
      9000,
      'PERMISSIVE',
    ],
    [
      'other port keeps workload mode',
      [ns('STRICT'), wl({ mode: 'STRICT', portLevelMtls: { '9000': 'PERMISSIVE' } })],
      8080,
      'STRICT',
    ],
    [
      'UNSET port inherits',
      [mesh('STRICT'), wl({ mode: 'DISABLE', portLevelMtls: { '9000': 'UNSET' } })],
      9000,
      'DISABLE',
    ],
    [
      'selector must match',
      [
        peerAuthentication('other', { namespace: 'app', selector: { app: 'db' }, mode: 'DISABLE' }),
        ns('STRICT'),
      ],
      undefined,
      'STRICT',
    ],
    [
      'other namespace does not apply',
      [peerAuthentication('x', { namespace: 'other', mode: 'DISABLE' })],
      undefined,
      'PERMISSIVE',
    ],
    [
      'oldest namespace policy wins',
      [
        peerAuthentication('b-new', {
          namespace: 'app',
          mode: 'DISABLE',
          creationTimestamp: '2024-02-01T00:00:00Z',
        }),
        peerAuthentication('a-old', {
          namespace: 'app',
          mode: 'STRICT',
          creationTimestamp: '2024-01-01T00:00:00Z',
        }),
      ],
      undefined,
      'STRICT',
    ],
  ];

  it.each(table)('%s', (_name, policies, port, expected) => {
    const { snapshot, errors } = compile([
      namespace('app'),
      pod('web', { namespace: 'app', labels: { app: 'web' } }),
      ...policies,
    ]);
    expect(errors).toEqual([]);
    const w = snapshot.workloads['uid-app-web'];
    if (!w) throw new Error('workload missing');
    // precompiled answer (snapshot + uid) and computed answer (bare policies) agree
    expect(resolvePeerAuthentication(snapshot, w, port)).toBe(expected);
    const set = {
      rootNamespace: snapshot.rootNamespace,
      policies: Object.values(snapshot.peerAuthenticationPolicies),
    };
    expect(resolvePeerAuthentication(set, { namespace: w.namespace, labels: w.labels }, port)).toBe(expected);
  });

  it('honours a custom root namespace', () => {
    const { snapshot } = compile(
      [pod('web', { namespace: 'app' }), peerAuthentication('m', { namespace: 'mesh-root', mode: 'STRICT' })],
      {
        rootNamespace: 'mesh-root',
      },
    );
    expect(snapshot.peerAuthentication['uid-app-web']?.mode).toBe('STRICT');
  });
});
