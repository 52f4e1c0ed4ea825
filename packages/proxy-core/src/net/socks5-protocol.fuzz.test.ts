// Property-based fuzzing of the SOCKS5 handshake parsers: any bytes, fed whole or in pieces,
// give "more", a value or an error value (never a throw); a value consumes no more than it got;
// a well-formed request parses to the address it encodes.
import { normalizeIp } from '@weft/policy';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FUZZ_TEST_TIMEOUT, fuzzParams } from '../../../../fuzz.shared.ts';
import {
  ATYP_DOMAINNAME,
  ATYP_IPV4,
  ATYP_IPV6,
  type ParseResult,
  parseGreeting,
  parseRequest,
} from './socks5-protocol.ts';

// Bytes that are mostly near a real handshake: version 5, small counts, known address types.
const byte = fc.oneof(fc.constantFrom(0, 1, 2, 3, 4, 5, 0xff), fc.nat(255));
const bytes = fc.array(byte, { maxLength: 300 }).map((b) => Uint8Array.from(b));

function checkResult<T>(r: ParseResult<T>, length: number): void {
  expect(['more', 'ok', 'error']).toContain(r.status);
  if (r.status === 'ok') expect(r.consumed).toBeLessThanOrEqual(length);
}

describe('SOCKS5 parsers (fuzz)', () => {
  it(
    'never throw, and no proper prefix of a complete message parses',
    () => {
      fc.assert(
        fc.property(bytes, (buf) => {
          const parsers: ((b: Uint8Array) => ParseResult<unknown>)[] = [parseGreeting, parseRequest];
          for (const parse of parsers) {
            const whole = parse(buf);
            checkResult(whole, buf.length);
            if (whole.status !== 'ok') continue;
            // Fed byte by byte, the parser asks for more until the message is complete.
            for (let n = 0; n < whole.consumed; n++) {
              const part = parse(buf.subarray(0, n));
              if (part.status === 'ok') throw new Error(`ok after ${n} of ${whole.consumed} bytes`);
            }
            expect(parse(buf.subarray(0, whole.consumed))).toEqual(whole);
          }
        }),
        fuzzParams(5000),
      );
    },
    FUZZ_TEST_TIMEOUT,
  );

  const target = fc.oneof(
    fc.array(fc.nat(255), { minLength: 4, maxLength: 4 }).map((a) => ({ atyp: ATYP_IPV4, addr: a })),
    fc.array(fc.nat(255), { minLength: 16, maxLength: 16 }).map((a) => ({ atyp: ATYP_IPV6, addr: a })),
    fc
      .domain()
      .filter((d) => d.length <= 255)
      .map((d) => ({
        atyp: ATYP_DOMAINNAME,
        addr: [d.length, ...Buffer.from(d, 'latin1')],
      })),
  );

  it(
    'parses a well-formed CONNECT to the address and port it encodes',
    () => {
      fc.assert(
        fc.property(
          target,
          fc.integer({ min: 1, max: 65535 }),
          fc.array(fc.nat(255), { maxLength: 8 }),
          (t, port, extra) => {
            const buf = Uint8Array.from([5, 1, 0, t.atyp, ...t.addr, port >> 8, port & 0xff, ...extra]);
            const r = parseRequest(buf);
            if (r.status !== 'ok') throw new Error(`refused: ${r.status === 'error' ? r.message : 'more'}`);
            expect(r.consumed).toBe(buf.length - extra.length);
            const got = r.value.target;
            expect(got.port).toBe(port);
            if (t.atyp === ATYP_DOMAINNAME) {
              expect(got).toMatchObject({
                kind: 'hostname',
                hostname: Buffer.from(t.addr.slice(1)).toString('latin1'),
              });
            } else {
              const text =
                t.atyp === ATYP_IPV4
                  ? t.addr.join('.')
                  : Array.from({ length: 8 }, (_, i) =>
                      (((t.addr[2 * i] ?? 0) << 8) | (t.addr[2 * i + 1] ?? 0)).toString(16),
                    ).join(':');
              expect(got).toMatchObject({ kind: 'address', ip: normalizeIp(text) });
            }
          },
        ),
        fuzzParams(3000),
      );
    },
    FUZZ_TEST_TIMEOUT,
  );
});
