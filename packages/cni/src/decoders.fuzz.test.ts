// Property-based fuzzing of the two decoders hostile peers reach: the node agent <-> ztunnel line
// decoder and the CNI plugin's stdin/env decoding. Random and mutated input never throws; what
// decodeLine accepts re-encodes to an equal message; what it refuses comes with a short reason.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FUZZ_TEST_TIMEOUT, fuzzParams } from '../../../fuzz.shared.ts';
import { decodeConfig, decodeEnv, podIpsFromResult } from './plugin/config.ts';
import { decodeLine, encodeMessage, type ProtocolMessage } from './protocol/messages.ts';

const name = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,10}[a-z0-9])?$/);
const pod = fc.record({ namespace: name, name }, { requiredKeys: ['namespace', 'name'] });
const message: fc.Arbitrary<ProtocolMessage> = fc.oneof(
  fc.record({
    type: fc.constant('add' as const),
    id: fc.nat(),
    pod,
    netns: fc.oneof(
      name.map((n) => `/var/run/netns/${n}`),
      fc.integer({ min: 1, max: 1e6 }).map((p) => `/proc/${p}/ns/net`),
    ),
  }),
  fc.record({ type: fc.constant('remove' as const), id: fc.nat(), pod }),
  fc.record({ type: fc.constant('snapshot-done' as const), id: fc.nat() }),
  fc.record(
    { type: fc.constant('ack' as const), id: fc.nat(), error: fc.string({ maxLength: 40 }) },
    { requiredKeys: ['type', 'id'] },
  ),
);

/** A valid line with one random edit: a character replaced, inserted or removed. */
const mutated = fc
  .tuple(message, fc.nat(), fc.string({ maxLength: 3 }), fc.nat({ max: 2 }))
  .map(([m, at, s, op]) => {
    const line = JSON.stringify(m);
    const i = at % (line.length + 1);
    return op === 0
      ? line.slice(0, i) + s + line.slice(i + 1)
      : op === 1
        ? line.slice(0, i) + s + line.slice(i)
        : line.slice(0, i) + line.slice(i + 1);
  });

describe('decodeLine fuzz', () => {
  it(
    'valid messages round-trip',
    () => {
      fc.assert(
        fc.property(message, (m) => {
          expect(decodeLine(encodeMessage(m))).toEqual({ ok: true, value: m });
        }),
        fuzzParams(500),
      );
    },
    FUZZ_TEST_TIMEOUT,
  );

  it(
    'random and mutated lines never throw; accepted ones re-encode equal, refused ones say why',
    () => {
      fc.assert(
        fc.property(fc.oneof(fc.string({ maxLength: 200 }), fc.json(), mutated), (line) => {
          const r = decodeLine(line);
          if (r.ok) expect(decodeLine(encodeMessage(r.value))).toEqual(r);
          else expect(r.error.length).toBeLessThan(300);
        }),
        fuzzParams(2000),
      );
    },
    FUZZ_TEST_TIMEOUT,
  );
});

describe('plugin input fuzz', () => {
  it(
    'config, env and prevResult decoding never throw',
    () => {
      const env = fc.dictionary(
        fc.constantFrom('CNI_CONTAINERID', 'CNI_IFNAME', 'CNI_NETNS', 'CNI_ARGS', 'CNI_PATH'),
        fc.string({ maxLength: 60 }),
      );
      fc.assert(
        fc.property(
          fc.oneof(fc.string(), fc.json()),
          env,
          fc.constantFrom('ADD', 'DEL', 'CHECK'),
          (stdin, e, command) => {
            const c = decodeConfig(stdin);
            if (c.ok && c.value.prevResult) podIpsFromResult(c.value.prevResult);
            const d = decodeEnv(command, e);
            if (!d.ok) expect([4, 7]).toContain(d.error.code);
          },
        ),
        fuzzParams(1000),
      );
    },
    FUZZ_TEST_TIMEOUT,
  );
});
