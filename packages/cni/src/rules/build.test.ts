import { describe, expect, it } from 'vitest';
import { ambientRules, podRules, sidecarRules } from './build.ts';
import { EMPTY_SPEC, type RuleSpec } from './spec.ts';

const spec: RuleSpec = {
  excludeInboundPorts: [9090],
  excludeOutboundPorts: [5432],
  probeSources: { 4: ['10.22.0.1'], 6: ['fd00:22::1'] },
};

const nat = (rs: ReturnType<typeof ambientRules>) => {
  const t = rs.tables.find((x) => x.table === 'nat');
  if (!t) throw new Error('no nat table');
  return t;
};

describe('ambientRules', () => {
  it('IPv4: the whole rule set', () => {
    expect(nat(ambientRules(spec, 4))).toEqual({
      table: 'nat',
      chains: ['WEFT_INBOUND', 'WEFT_IN_REDIRECT', 'WEFT_OUTBOUND', 'WEFT_REDIRECT'],
      rules: [
        '-A WEFT_INBOUND -m mark --mark 0x539/0xfff -j RETURN',
        '-A WEFT_INBOUND -p tcp -m tcp --dport 15008 -j RETURN',
        '-A WEFT_INBOUND -p tcp -m tcp --dport 9090 -j RETURN',
        '-A WEFT_INBOUND -s 10.22.0.1/32 -j RETURN',
        '-A WEFT_INBOUND -p tcp -j WEFT_IN_REDIRECT',
        '-A WEFT_OUTBOUND -m mark --mark 0x539/0xfff -j RETURN',
        '-A WEFT_OUTBOUND -o lo -j RETURN',
        '-A WEFT_OUTBOUND -d 127.0.0.1/32 -j RETURN',
        '-A WEFT_OUTBOUND -p tcp -m tcp --dport 5432 -j RETURN',
        '-A WEFT_OUTBOUND -p tcp -j WEFT_REDIRECT',
        '-A WEFT_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006',
        '-A WEFT_REDIRECT -p tcp -j REDIRECT --to-ports 15001',
        '-A PREROUTING -p tcp -j WEFT_INBOUND',
        '-A OUTPUT -p tcp -j WEFT_OUTBOUND',
      ],
    });
  });

  it('IPv6 uses ::1 and the IPv6 probe source only', () => {
    const rules = nat(ambientRules(spec, 6)).rules;
    expect(rules).toContain('-A WEFT_OUTBOUND -d ::1/128 -j RETURN');
    expect(rules).toContain('-A WEFT_INBOUND -s fd00:22::1/128 -j RETURN');
    expect(rules.join('\n')).not.toContain('10.22.0.1');
  });

  it('with no exclusions has no port or source rules', () => {
    const rules = nat(ambientRules(EMPTY_SPEC, 4)).rules;
    expect(rules.filter((r) => r.includes('--dport'))).toEqual([
      '-A WEFT_INBOUND -p tcp -m tcp --dport 15008 -j RETURN',
    ]);
    expect(rules.some((r) => r.includes(' -s '))).toBe(false);
  });

  it('orders marks and exclusions before the redirect jump in each chain', () => {
    for (const family of [4, 6] as const) {
      const rules = nat(ambientRules(spec, family)).rules;
      for (const chain of ['WEFT_INBOUND', 'WEFT_OUTBOUND']) {
        const own = rules.filter((r) => r.startsWith(`-A ${chain} `));
        expect(own.at(-1)).toMatch(/-j WEFT_(IN_)?REDIRECT$/);
        expect(own[0]).toContain('--mark 0x539');
      }
    }
  });
});

describe('sidecarRules', () => {
  it('IPv4: own ports not captured, uid 1337 excluded, Istio loopback handling', () => {
    expect(nat(sidecarRules(spec, 4)).rules).toEqual([
      '-A WEFT_INBOUND -p tcp -m tcp --dport 15000 -j RETURN',
      '-A WEFT_INBOUND -p tcp -m tcp --dport 15008 -j RETURN',
      '-A WEFT_INBOUND -p tcp -m tcp --dport 15020 -j RETURN',
      '-A WEFT_INBOUND -p tcp -m tcp --dport 15021 -j RETURN',
      '-A WEFT_INBOUND -p tcp -m tcp --dport 9090 -j RETURN',
      '-A WEFT_INBOUND -s 10.22.0.1/32 -j RETURN',
      '-A WEFT_INBOUND -p tcp -j WEFT_IN_REDIRECT',
      '-A WEFT_OUTBOUND -s 127.0.0.6/32 -o lo -j RETURN',
      '-A WEFT_OUTBOUND ! -d 127.0.0.1/32 -o lo -p tcp -m tcp ! --dport 15008 -m owner --uid-owner 1337 -j WEFT_IN_REDIRECT',
      '-A WEFT_OUTBOUND -o lo -m owner ! --uid-owner 1337 -j RETURN',
      '-A WEFT_OUTBOUND -m owner --uid-owner 1337 -j RETURN',
      '-A WEFT_OUTBOUND -d 127.0.0.1/32 -j RETURN',
      '-A WEFT_OUTBOUND -p tcp -m tcp --dport 5432 -j RETURN',
      '-A WEFT_OUTBOUND -p tcp -j WEFT_REDIRECT',
      '-A WEFT_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006',
      '-A WEFT_REDIRECT -p tcp -j REDIRECT --to-ports 15001',
      '-A PREROUTING -p tcp -j WEFT_INBOUND',
      '-A OUTPUT -p tcp -j WEFT_OUTBOUND',
    ]);
  });

  it('IPv6 uses ::6 and ::1', () => {
    const rules = nat(sidecarRules(spec, 6)).rules;
    expect(rules).toContain('-A WEFT_OUTBOUND -s ::6/128 -o lo -j RETURN');
    expect(rules).toContain(
      '-A WEFT_OUTBOUND ! -d ::1/128 -o lo -p tcp -m tcp ! --dport 15008 -m owner --uid-owner 1337 -j WEFT_IN_REDIRECT',
    );
  });

  it('podRules picks the builder by mode', () => {
    expect(podRules('sidecar', spec, 4)).toEqual(sidecarRules(spec, 4));
    expect(podRules('ambient', spec, 6)).toEqual(ambientRules(spec, 6));
  });
});
