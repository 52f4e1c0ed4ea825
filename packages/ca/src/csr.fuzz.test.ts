// Property-based fuzzing of CSR parsing. DER is a distinguished encoding, and the CA parses it
// strictly: a corrupted request is refused unless the corruption gave back the very same bytes,
// and any BER-style re-encoding of a valid request (long-form lengths) is refused as well.
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { FUZZ_TEST_TIMEOUT, fuzzParams } from '../../../fuzz.shared.ts';
import { createCsr, parseCsr } from './csr.ts';
import { children, derToPem, encodeLength, isMinimalDer, pemBlocks, readTlv } from './der.ts';
import { generateRsaKeyPair } from './keys.ts';
import { rawCsr } from './testing/fixtures.ts';

type Mutation =
  | { readonly op: 'set'; readonly at: number; readonly value: number }
  | { readonly op: 'insert'; readonly at: number; readonly value: number }
  | { readonly op: 'delete'; readonly at: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('set' as const), at: fc.nat(), value: fc.nat(255) }),
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), value: fc.nat(255) }),
  fc.record({ op: fc.constant('delete' as const), at: fc.nat() }),
);

function mutate(der: Buffer, ms: readonly Mutation[]): Buffer {
  const b = Array.from(der);
  for (const m of ms) {
    const at = m.at % b.length;
    if (m.op === 'set') b[at] = m.value;
    else if (m.op === 'insert') b.splice(at, 0, m.value);
    else b.splice(at, 1);
  }
  return Buffer.from(b);
}

/** Re-encodes the length of the TLV at `offset` in long form with `extra` leading zero bytes. */
function longFormAt(der: Buffer, offset: number, extra: number): Buffer {
  const tlv = readTlv(der, offset);
  const length = tlv.end - tlv.contentStart;
  const minimal = encodeLength(length);
  const body = minimal.length === 1 ? Buffer.from([length]) : minimal.subarray(1);
  const padded = Buffer.concat([Buffer.alloc(extra), body]);
  const header = Buffer.concat([Buffer.from([der[offset] as number, 0x80 | padded.length]), padded]);
  return Buffer.concat([der.subarray(0, offset), header, der.subarray(tlv.contentStart)]);
}

describe('parseCsr (fuzz)', () => {
  const seeds: Buffer[] = [];
  beforeAll(async () => {
    const key = await generateRsaKeyPair();
    seeds.push(
      pemBlocks(
        createCsr(key, { spiffeId: 'spiffe://cluster.local/ns/a/sa/b' }),
        'CERTIFICATE REQUEST',
      )[0] as Buffer,
      pemBlocks(rawCsr({ key: 'rsa' }), 'CERTIFICATE REQUEST')[0] as Buffer,
    );
  });

  it(
    'refuses every corrupted request, unless the corruption gave back the same bytes',
    () => {
      for (const der of seeds) expect(parseCsr(derToPem(der, 'CERTIFICATE REQUEST')).ok).toBe(true);
      fc.assert(
        fc.property(fc.nat(seeds.length - 1), fc.array(mutation, { minLength: 1, maxLength: 4 }), (i, ms) => {
          const der = seeds[i] as Buffer;
          const bad = mutate(der, ms);
          const r = parseCsr(derToPem(bad, 'CERTIFICATE REQUEST'));
          if (r.ok) expect(bad.equals(der), `accepted ${bad.toString('hex')}`).toBe(true);
          else expect(r.error.code).toBe('invalid-argument');
        }),
        fuzzParams(1000),
      );
    },
    FUZZ_TEST_TIMEOUT,
  );

  it(
    'refuses a long-form length anywhere outside the signed bytes, and the checker agrees',
    () => {
      fc.assert(
        fc.property(fc.nat(seeds.length - 1), fc.nat(), fc.integer({ min: 1, max: 3 }), (i, pick, extra) => {
          const der = seeds[i] as Buffer;
          const outer = readTlv(der, 0);
          const [, alg, sig] = children(der, outer);
          const algOid = alg && children(der, alg)[0];
          const offsets = [0, alg?.start, algOid?.start, sig?.start].filter(
            (o): o is number => o !== undefined,
          );
          const ber = longFormAt(der, offsets[pick % offsets.length] as number, extra);
          // Lengths of enclosing TLVs are now one or more bytes short: fix the outer one when needed.
          const fixed = ber.length === der.length ? ber : resizeOuter(ber, der);
          expect(isMinimalDer(fixed)).toBe(false);
          expect(parseCsr(derToPem(fixed, 'CERTIFICATE REQUEST')).ok).toBe(false);
        }),
        fuzzParams(200),
      );
    },
    FUZZ_TEST_TIMEOUT,
  );

  it(
    'never throws on random PEM bodies',
    () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
          const r = parseCsr(derToPem(bytes, 'CERTIFICATE REQUEST'));
          expect(r.ok).toBe(false);
        }),
        fuzzParams(2000),
      );
    },
    FUZZ_TEST_TIMEOUT,
  );
});

/** Rewrites the enclosing lengths (outer SEQUENCE and, if needed, the alg SEQUENCE) after a header grew. */
function resizeOuter(ber: Buffer, original: Buffer): Buffer {
  const grown = ber.length - original.length;
  const outer = readTlv(original, 0);
  const oldInner = original.subarray(outer.contentStart);
  const newInnerStart =
    ber[0] === original[0] &&
    ber.subarray(0, outer.contentStart).equals(original.subarray(0, outer.contentStart))
      ? outer.contentStart
      : -1;
  if (newInnerStart < 0) return ber; // the outer header itself was rewritten: its length is right
  let inner = ber.subarray(outer.contentStart);
  const [, alg] = children(original, outer);
  if (alg) {
    const algRel = alg.start - outer.contentStart;
    const algHeader = alg.contentStart - alg.start;
    if (inner.subarray(algRel, algRel + algHeader).equals(oldInner.subarray(algRel, algRel + algHeader))) {
      // The change is inside the alg SEQUENCE: its length grows too.
      const algLen = alg.end - alg.contentStart + grown;
      const h = Buffer.concat([Buffer.from([0x30]), encodeLength(algLen)]);
      inner = Buffer.concat([inner.subarray(0, algRel), h, inner.subarray(algRel + algHeader)]);
    }
  }
  return Buffer.concat([Buffer.from([0x30]), encodeLength(inner.length), inner]);
}
