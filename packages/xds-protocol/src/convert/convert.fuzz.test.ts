// Property-based fuzzing of the xDS -> domain conversion (the proxies' half): random bytes and
// mutated valid encodings of every weft.v1 kind give a value or an error value, never a throw
// and never an "internal:" error (an unexpected exception caught at the boundary is a bug too).
import { compile } from '@weft/policy';
import {
  authorizationPolicy,
  destinationRule,
  httpRoute,
  meshFixture,
  peerAuthentication,
} from '@weft/policy/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FUZZ_TEST_TIMEOUT, fuzzParams } from '../../../../fuzz.shared.ts';
import { Authorization } from '../gen/weft/v1/authorization.ts';
import { BackendPolicy } from '../gen/weft/v1/backend_policy.ts';
import { HttpRoutes } from '../gen/weft/v1/http_routes.ts';
import { Service } from '../gen/weft/v1/service.ts';
import { Waypoint } from '../gen/weft/v1/waypoint.ts';
import { Workload } from '../gen/weft/v1/workload.ts';
import type { WeftKind } from '../weft-resources.ts';
import {
  type ConvertResult,
  decodeDomain,
  fromProtoAuthorization,
  fromProtoBackendPolicy,
  fromProtoHttpRoutes,
  fromProtoService,
  fromProtoWaypoint,
  fromProtoWorkload,
  toProtoAuthorization,
  toProtoBackendPolicy,
  toProtoHttpRoutes,
  toProtoService,
  toProtoWaypoint,
  toProtoWorkload,
} from './index.ts';

const { snapshot } = compile([
  ...meshFixture(),
  peerAuthentication('strict', {
    namespace: 'shop',
    selector: { app: 'web' },
    mode: 'STRICT',
    portLevelMtls: { 8080: 'PERMISSIVE' },
  }),
  authorizationPolicy('rich', {
    namespace: 'shop',
    action: 'DENY',
    rules: [
      {
        from: [
          { source: { principals: ['cluster.local/ns/x/sa/*'], ipBlocks: ['10.0.0.0/8', 'fd00::/16'] } },
        ],
        to: [{ operation: { methods: ['GET'], paths: ['/admin/*'], ports: ['8080'] } }],
        when: [{ key: 'request.headers[x-user]', values: ['a', 'b*'] }],
      },
    ],
  }),
  httpRoute('split', {
    namespace: 'shop',
    service: 'web',
    rules: [
      {
        matches: [{ path: { type: 'PathPrefix', value: '/api' } }],
        backendRefs: [{ name: 'web', port: 80 }],
      },
    ],
  }),
  destinationRule('web-dr', {
    namespace: 'shop',
    host: 'web',
    trafficPolicy: { connectionPool: { tcp: { maxConnections: 10 } } },
  }),
]);

interface Kind {
  readonly kind: WeftKind;
  readonly seeds: readonly Uint8Array[];
  /** Wire decode (may throw, like any protobuf decoder) then conversion. */
  readonly convert: (bytes: Uint8Array) => ConvertResult<unknown>;
}

const kinds: readonly Kind[] = [
  {
    kind: 'workload',
    seeds: Object.values(snapshot.workloads).map((w) =>
      Workload.encode(toProtoWorkload(w, snapshot)).finish(),
    ),
    convert: (b) => fromProtoWorkload(Workload.decode(b)),
  },
  {
    kind: 'service',
    seeds: Object.values(snapshot.services).map((s) => Service.encode(toProtoService(s, snapshot)).finish()),
    convert: (b) => fromProtoService(Service.decode(b)),
  },
  {
    kind: 'authorization',
    seeds: Object.values(snapshot.authorizationPolicies).map((p) =>
      Authorization.encode(toProtoAuthorization(p)).finish(),
    ),
    convert: (b) => fromProtoAuthorization(Authorization.decode(b)),
  },
  {
    kind: 'httpRoutes',
    seeds: Object.values(snapshot.routes).map((r) => HttpRoutes.encode(toProtoHttpRoutes(r)).finish()),
    convert: (b) => fromProtoHttpRoutes(HttpRoutes.decode(b)),
  },
  {
    kind: 'backendPolicy',
    seeds: Object.values(snapshot.backendPolicies).map((p) =>
      BackendPolicy.encode(toProtoBackendPolicy(p)).finish(),
    ),
    convert: (b) => fromProtoBackendPolicy(BackendPolicy.decode(b)),
  },
  {
    kind: 'waypoint',
    seeds: Object.values(snapshot.waypoints).map((w) => Waypoint.encode(toProtoWaypoint(w)).finish()),
    convert: (b) => fromProtoWaypoint(Waypoint.decode(b)),
  },
];

type Mutation =
  | { readonly op: 'set'; readonly at: number; readonly value: number }
  | { readonly op: 'insert'; readonly at: number; readonly bytes: readonly number[] }
  | { readonly op: 'delete'; readonly at: number; readonly count: number }
  | { readonly op: 'truncate'; readonly at: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('set' as const), at: fc.nat(), value: fc.nat(255) }),
  fc.record({
    op: fc.constant('insert' as const),
    at: fc.nat(),
    bytes: fc.array(fc.nat(255), { minLength: 1, maxLength: 6 }),
  }),
  fc.record({ op: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 6 }) }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
);

function mutate(seed: Uint8Array, mutations: readonly Mutation[]): Uint8Array {
  const b = Array.from(seed);
  for (const m of mutations) {
    const at = b.length === 0 ? 0 : m.at % (b.length + 1);
    if (m.op === 'set') b[Math.min(at, Math.max(0, b.length - 1))] = m.value;
    else if (m.op === 'insert') b.splice(at, 0, ...m.bytes);
    else if (m.op === 'delete') b.splice(at, m.count);
    else b.length = at;
  }
  return Uint8Array.from(b);
}

function checkNoThrow(k: Kind, bytes: Uint8Array): void {
  let decoded = true;
  let result: ConvertResult<unknown> | undefined;
  try {
    result = k.convert(bytes);
  } catch {
    decoded = false; // the protobuf decoder refused the bytes: decodeDomain turns that into an error
  }
  if (decoded && result && !result.ok) expect(result.error).not.toMatch(/^internal:/);
  const whole = decodeDomain(k.kind, bytes, 'any/name');
  expect(typeof whole.ok).toBe('boolean');
}

describe('xDS -> domain conversion (fuzz)', () => {
  for (const k of kinds) {
    it(
      `${k.kind}: mutated valid encodings give a value or an error value`,
      () => {
        expect(k.seeds.length).toBeGreaterThan(0);
        for (const seed of k.seeds) expect(k.convert(seed).ok).toBe(true);
        fc.assert(
          fc.property(
            fc.nat(k.seeds.length - 1),
            fc.array(mutation, { minLength: 1, maxLength: 4 }),
            (i, ms) => {
              checkNoThrow(k, mutate(k.seeds[i] as Uint8Array, ms));
            },
          ),
          fuzzParams(1500),
        );
      },
      FUZZ_TEST_TIMEOUT,
    );

    it(
      `${k.kind}: random bytes give a value or an error value`,
      () => {
        fc.assert(
          fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => checkNoThrow(k, bytes)),
          fuzzParams(1000),
        );
      },
      FUZZ_TEST_TIMEOUT,
    );
  }
});
