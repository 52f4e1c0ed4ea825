// The in-place Workload decoder against the generated one: for valid encodings and for mutated
// ones, both throw or both return equal messages. And the StringTable never returns a string
// other than the bytes' own, whatever collides.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FUZZ_TEST_TIMEOUT, fuzzParams } from '../../../fuzz.shared.ts';
import { Workload } from './gen/weft/v1/workload.ts';
import { StringTable } from './wire-reader.ts';
import { decodeWorkloadAt } from './workload-decode.ts';

const text = fc.oneof(
  fc.constantFrom('', 'ns-1', 'node-7', 'cluster.local', 'app', 'v1', 'Kubernetes'),
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'binary', maxLength: 70 }),
);
const ip = fc.oneof(fc.uint8Array({ minLength: 4, maxLength: 4 }), fc.uint8Array({ maxLength: 20 }));
const address = fc.record({ network: text, address: ip });

const workload = fc
  .record({
    uid: text,
    name: text,
    namespace: text,
    node: text,
    addresses: fc.array(ip, { maxLength: 3 }),
    network: text,
    serviceAccount: text,
    trustDomain: text,
    identity: text,
    dataPlaneMode: fc.integer({ min: -1, max: 5 }),
    tunnelProtocol: fc.integer({ min: 0, max: 3 }),
    waypoint: fc.option(
      fc.record({
        address: fc.option(address, { nil: undefined }),
        hostname: fc.option(text, { nil: undefined }),
        hbonePort: fc.nat(70000),
        identity: text,
        gateway: text,
      }),
      { nil: undefined },
    ),
    labels: fc.dictionary(text, text, { maxKeys: 4 }),
    workloadName: text,
    canonicalName: text,
    canonicalRevision: text,
    clusterId: text,
    status: fc.integer({ min: 0, max: 3 }),
    containerPorts: fc.array(fc.record({ name: text, port: fc.nat(70000), protocol: text }), {
      maxLength: 2,
    }),
    services: fc.array(text, { maxLength: 3 }),
    authorizationPolicies: fc.array(text, { maxLength: 3 }),
    mtlsMode: fc.integer({ min: 0, max: 3 }),
    portMtlsModes: fc.dictionary(fc.nat(65535).map(String), fc.integer({ min: 0, max: 3 }), { maxKeys: 3 }),
  })
  .map((w) => Workload.fromPartial(w as Parameters<typeof Workload.fromPartial>[0]));

type Outcome = { ok: true; value: Workload } | { ok: false };

function run(decode: () => Workload): Outcome {
  try {
    return { ok: true, value: decode() };
  } catch {
    return { ok: false };
  }
}

/** Decodes `bytes` placed inside a larger buffer, as the client reads it from a response. */
function inPlace(bytes: Uint8Array, strings?: StringTable): () => Workload {
  const buf = new Uint8Array(bytes.length + 6).fill(0xff);
  buf.set(bytes, 3);
  return () => decodeWorkloadAt(buf, 3, 3 + bytes.length, strings);
}

describe('decodeWorkloadAt', () => {
  it(
    'returns what Workload.decode returns for every valid encoding',
    () => {
      const strings = new StringTable(64);
      fc.assert(
        fc.property(workload, (w) => {
          const bytes = Workload.encode(w).finish();
          const expected = Workload.decode(bytes);
          expect(decodeWorkloadAt(bytes, 0, bytes.length)).toEqual(expected);
          // Twice through one small table: hits and collisions give the same message.
          expect(inPlace(bytes, strings)()).toEqual(expected);
          expect(inPlace(bytes, strings)()).toEqual(expected);
        }),
        fuzzParams(800),
      );
    },
    FUZZ_TEST_TIMEOUT,
  );

  it(
    'throws exactly where Workload.decode throws on mutated encodings, and agrees otherwise',
    () => {
      const strings = new StringTable(64);
      const mutated = fc
        .tuple(
          workload,
          fc.array(fc.tuple(fc.nat(), fc.nat(255), fc.constantFrom('set', 'cut', 'insert')), {
            minLength: 1,
            maxLength: 4,
          }),
        )
        .map(([w, edits]) => {
          let b = Array.from(Workload.encode(w).finish());
          for (const [at, byte, how] of edits) {
            const i = b.length === 0 ? 0 : at % b.length;
            if (how === 'set') b[i] = byte;
            else if (how === 'cut') b = b.slice(0, i);
            else b.splice(i, 0, byte);
          }
          return Uint8Array.from(b);
        });
      fc.assert(
        fc.property(fc.oneof(mutated, fc.uint8Array({ maxLength: 64 })), (bytes) => {
          const expected = run(() => Workload.decode(bytes));
          expect(run(inPlace(bytes))).toEqual(expected);
          expect(run(inPlace(bytes, strings))).toEqual(expected);
        }),
        fuzzParams(3000),
      );
    },
    FUZZ_TEST_TIMEOUT,
  );

  it('reuses the resource name for a uid with the same bytes, and decodes a different one', () => {
    const bytes = Workload.encode(Workload.fromPartial({ uid: 'cluster.local//Pod/a/b' })).finish();
    expect(decodeWorkloadAt(bytes, 0, bytes.length, undefined, 'cluster.local//Pod/a/b').uid).toBe(
      'cluster.local//Pod/a/b',
    );
    expect(decodeWorkloadAt(bytes, 0, bytes.length, undefined, 'cluster.local//Pod/a/c').uid).toBe(
      'cluster.local//Pod/a/b',
    );
  });
});

describe('StringTable', () => {
  it(
    'returns the decoded text of the bytes, whatever shares a slot',
    () => {
      const encoder = new TextEncoder();
      const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
      // Two slots: almost every lookup collides with another string.
      const table = new StringTable(2);
      fc.assert(
        fc.property(
          fc.array(fc.oneof(text, fc.string({ unit: 'grapheme', maxLength: 8 })), { maxLength: 20 }),
          (words) => {
            for (const w of [...words, ...words]) {
              const b = encoder.encode(w);
              expect(table.get(b, 0, b.length)).toBe(decoder.decode(b));
            }
          },
        ),
        fuzzParams(500),
      );
    },
    FUZZ_TEST_TIMEOUT,
  );
});
