// Property-based fuzzing of the hand-written IP/CIDR parser and matcher against a reference
// model that treats addresses as BigInts: a block contains an address when both agree on the
// top `prefix` bits. Addresses are written in every legal spelling (IPv6 compression, case,
// embedded IPv4, IPv4-mapped) and random text must never throw. The wire form (ipToBytes)
// accepts exactly RFC 3986's IPv4address / IPv6address, written as one regular expression.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FUZZ_TEST_TIMEOUT, fuzzParams } from '../../../../fuzz.shared.ts';
import { bytesToIp, cidrContains, formatCidr, formatIp, ipToBytes, parseCidr, parseIp } from './ip.ts';

function toBigInt(bytes: readonly number[]): bigint {
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  return n;
}

/** Reference: does `ip` lie in `net/prefix`, both of `bits` width? */
function refContains(net: bigint, prefix: number, ip: bigint, bits: number): boolean {
  const shift = BigInt(bits - prefix);
  return net >> shift === ip >> shift;
}

/** An IPv6 address spelled one of the legal ways: full, compressed anywhere legal, any case. */
function spellV6(bytes: readonly number[], zeroRun: number, upper: boolean, v4Tail: boolean): string {
  const words: string[] = [];
  for (let i = 0; i < 16; i += 2) words.push((((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0)).toString(16));
  let tail: string[] = [];
  if (v4Tail) {
    words.length = 6;
    tail = [bytes.slice(12).join('.')];
  }
  // Compress a run of zero words starting at a chosen zero word (any run is legal, not only the longest).
  const zeros = words.flatMap((w, i) => (w === '0' ? [i] : []));
  let text: string;
  if (zeros.length > 0 && zeroRun > 0) {
    const start = zeros[zeroRun % zeros.length] as number;
    let end = start;
    while (end < words.length && words[end] === '0') end++;
    text = `${words.slice(0, start).join(':')}::${[...words.slice(end), ...tail].join(':')}`;
  } else text = [...words, ...tail].join(':');
  return upper ? text.toUpperCase() : text;
}

const v4 = fc.array(fc.nat(255), { minLength: 4, maxLength: 4 });
// Mostly-zero IPv6 addresses exercise "::" compression.
const v6 = fc.array(fc.oneof(fc.constant(0), fc.nat(255)), { minLength: 16, maxLength: 16 });
const mapped = v4.map((b) => [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...b]);

const address = fc.oneof(
  v4.map((b) => ({ text: b.join('.'), bytes: b, bits: 32 })),
  fc
    .record({ b: fc.oneof(v6, mapped), run: fc.nat(8), upper: fc.boolean(), tail: fc.boolean() })
    .map(({ b, run, upper, tail }) => {
      const isMapped = b.slice(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff;
      // An IPv4-mapped address is the IPv4 address it carries.
      return {
        text: spellV6(b, run, upper, tail),
        bytes: isMapped ? b.slice(12) : b,
        bits: isMapped ? 32 : 128,
      };
    }),
);

describe('IP and CIDR parsing (fuzz)', () => {
  it(
    'matches the BigInt reference model for every block and address',
    () => {
      fc.assert(
        fc.property(address, address, fc.nat(128), (netAddr, ipAddr, p) => {
          const ip = parseIp(ipAddr.text);
          expect(ip && Array.from(ip), ipAddr.text).toEqual(ipAddr.bytes);
          const rawBits = netAddr.text.includes(':') ? 128 : 32;
          const prefix = p % (rawBits + 1);
          const cidr = parseCidr(`${netAddr.text}/${prefix}`);
          if (cidr === undefined) throw new Error(`${netAddr.text}/${prefix} was refused`);
          // ::ffff:a.b.c.d/p with p >= 96 is the IPv4 block a.b.c.d/(p-96); below 96 it stays IPv6.
          const mappedBlock = netAddr.bits === 32 && rawBits === 128;
          const bits = mappedBlock && prefix < 96 ? 128 : netAddr.bits;
          const netBytes =
            bits === 128 && mappedBlock
              ? [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...netAddr.bytes]
              : netAddr.bytes;
          const effPrefix = mappedBlock && prefix >= 96 ? prefix - 96 : prefix;
          expect(cidr.prefix).toBe(effPrefix);
          const expected =
            ipAddr.bits === bits && refContains(toBigInt(netBytes), effPrefix, toBigInt(ipAddr.bytes), bits);
          expect(cidrContains(cidr, ip as Uint8Array), `${formatCidr(cidr)} contains ${ipAddr.text}`).toBe(
            expected,
          );
        }),
        fuzzParams(5000),
      );
    },
    FUZZ_TEST_TIMEOUT,
  );

  it(
    'formats canonically: parse(format(x)) is x and format is a fixed point',
    () => {
      fc.assert(
        fc.property(address, fc.nat(128), (a, p) => {
          const cidr = parseCidr(`${a.text}/${p % ((a.text.includes(':') ? 128 : 32) + 1)}`);
          if (cidr === undefined) return;
          const text = formatCidr(cidr);
          expect(formatCidr(parseCidr(text) as NonNullable<typeof cidr>)).toBe(text);
          const ip = parseIp(a.text) as Uint8Array;
          expect(formatIp(parseIp(formatIp(ip)) as Uint8Array)).toBe(formatIp(ip));
        }),
        fuzzParams(3000),
      );
    },
    FUZZ_TEST_TIMEOUT,
  );

  const ipish = fc
    .array(
      fc.constantFrom(
        '0',
        '1',
        '9',
        'a',
        'F',
        'g',
        '.',
        ':',
        '::',
        '/',
        '%',
        '[',
        ']',
        '-',
        ' ',
        '00',
        '255',
        '256',
      ),
      {
        maxLength: 24,
      },
    )
    .map((p) => p.join(''));

  it(
    'never throws on random text; what parses is a well-formed block',
    () => {
      fc.assert(
        fc.property(fc.oneof(ipish, fc.string({ maxLength: 50 })), (text) => {
          const cidr = parseCidr(text);
          if (cidr !== undefined) {
            expect([4, 16]).toContain(cidr.bytes.length);
            expect(cidr.prefix).toBeLessThanOrEqual(cidr.bytes.length * 8);
            // No legacy forms: every IPv4 part is plain decimal without leading zeros.
            const dotted = (text.split('/')[0] ?? '').split(':').pop() ?? '';
            if (dotted.includes('.')) expect(dotted.split('.').some((d) => /^0[0-9]/.test(d))).toBe(false);
          }
          const ip = parseIp(text);
          if (ip !== undefined) expect([4, 16]).toContain(ip.length);
        }),
        fuzzParams(5000),
      );
    },
    FUZZ_TEST_TIMEOUT,
  );

  // RFC 3986 section 3.2.2, transcribed: dec-octet has no leading zeros, h16 is 1-4 hex digits.
  const dec = '(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])';
  const v4Ref = `${dec}\\.${dec}\\.${dec}\\.${dec}`;
  const h16 = '[0-9A-Fa-f]{1,4}';
  const ls32 = `(${h16}:${h16}|${v4Ref})`;
  const upTo = (n: number): string => `((${h16}:){0,${n}}${h16})?`;
  const v6Ref = [
    `(${h16}:){6}${ls32}`,
    `::(${h16}:){5}${ls32}`,
    `(${h16})?::(${h16}:){4}${ls32}`,
    `${upTo(1)}::(${h16}:){3}${ls32}`,
    `${upTo(2)}::(${h16}:){2}${ls32}`,
    `${upTo(3)}::${h16}:${ls32}`,
    `${upTo(4)}::${ls32}`,
    `${upTo(5)}::${h16}`,
    `${upTo(6)}::`,
  ].join('|');
  const literalRef = new RegExp(`^(${v4Ref}|${v6Ref})$`);

  const literalish = fc
    .array(
      fc.constantFrom(
        '0',
        '1',
        '9',
        'a',
        'F',
        'g',
        'ffff',
        '0000',
        '12345',
        '.',
        ':',
        '::',
        '%',
        '[',
        ']',
        '255',
        '256',
        '00',
        '1.2.3.4',
        ' ',
      ),
      { maxLength: 20 },
    )
    .map((p) => p.join(''));
  const rawAddress = fc.oneof(v4, v6, mapped);
  const spelled = fc
    .record({ b: rawAddress, run: fc.nat(8), upper: fc.boolean(), tail: fc.boolean() })
    .map(({ b, run, upper, tail }) => (b.length === 4 ? b.join('.') : spellV6(b, run, upper, tail)));

  it(
    'ipToBytes accepts exactly the RFC 3986 address literals',
    () => {
      fc.assert(
        fc.property(fc.oneof(literalish, spelled, fc.string({ maxLength: 50 })), (text) => {
          const bytes = ipToBytes(text);
          expect(bytes !== undefined, text).toBe(literalRef.test(text));
          if (bytes === undefined) return;
          // the same bytes as the socket-side parser, except that the wire keeps mapped addresses
          const v6 = text.includes(':');
          expect(bytes.length).toBe(v6 ? 16 : 4);
          const parsed = parseIp(text) as Uint8Array;
          expect(Array.from(bytes.length === parsed.length ? bytes : bytes.slice(12))).toEqual(
            Array.from(parsed),
          );
          expect(Array.from(ipToBytes(bytesToIp(bytes) as string) as Uint8Array)).toEqual(Array.from(bytes));
        }),
        fuzzParams(5000),
      );
    },
    FUZZ_TEST_TIMEOUT,
  );

  it(
    'bytesToIp gives the canonical literal of any 4 or 16 bytes, and ipToBytes reads it back',
    () => {
      fc.assert(
        fc.property(fc.oneof(rawAddress, fc.array(fc.nat(255), { maxLength: 20 })), spelled, (raw, text) => {
          const bytes = Uint8Array.from(raw);
          const formatted = bytesToIp(bytes);
          if (raw.length !== 4 && raw.length !== 16) {
            expect(formatted).toBeUndefined();
            return;
          }
          expect(literalRef.test(formatted as string), formatted).toBe(true);
          expect(Array.from(ipToBytes(formatted as string) as Uint8Array)).toEqual(raw);
          // every legal spelling of an address formats to one text
          const b = ipToBytes(text) as Uint8Array;
          expect(bytesToIp(b)).toBe(bytesToIp(ipToBytes(bytesToIp(b) as string) as Uint8Array));
        }),
        fuzzParams(3000),
      );
    },
    FUZZ_TEST_TIMEOUT,
  );
});
