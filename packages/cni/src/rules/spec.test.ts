import { describe, expect, it } from 'vitest';
import { parsePortList, ruleSpec } from './spec.ts';

const IN = 'weft.dev/exclude-inbound-ports';
const OUT = 'weft.dev/exclude-outbound-ports';

describe('parsePortList', () => {
  it.each([
    [undefined, []],
    ['', []],
    ['  ', []],
    ['8080', [8080]],
    ['9090, 8080,8080 ', [8080, 9090]],
    ['1,65535', [1, 65535]],
  ])('%j -> %j', (value, ports) => {
    expect(parsePortList(IN, value)).toEqual({ ports });
  });

  it.each([
    ['abc', '"abc", which is not a port number'],
    ['80,', '"", which is not a port number'],
    ['80;81', 'not a port number'],
    ['0', 'outside 1-65535'],
    ['65536', 'outside 1-65535'],
    ['-1', 'not a port number'],
    ['1e3', 'not a port number'],
    ['8080-8090', 'not a port number'],
    ['*', 'not a port number'],
    [Array.from({ length: 65 }, (_, i) => i + 1).join(','), 'more than 64 ports'],
    ['1,'.repeat(600), 'longer than 1024'],
  ])('%j is refused: %s', (value, reason) => {
    const result = parsePortList(IN, value);
    expect('error' in result).toBe(true);
    if (!('error' in result)) return;
    expect(result.error.field).toBe(IN);
    expect(result.error.reason).toContain(reason);
    expect(result.error.message.startsWith(`${IN} `)).toBe(true);
  });
});

describe('ruleSpec', () => {
  it('reads both annotations and sorts probe sources by family, canonically', () => {
    const result = ruleSpec({
      annotations: { [IN]: '8080', [OUT]: '5432,3306', other: 'x' },
      probeSources: ['10.0.0.1', 'FD00:0:0::1', '10.0.0.1'],
    });
    expect(result).toEqual({
      ok: true,
      spec: {
        excludeInboundPorts: [8080],
        excludeOutboundPorts: [3306, 5432],
        probeSources: { 4: ['10.0.0.1'], 6: ['fd00::1'] },
      },
    });
  });

  it('names the annotation at fault', () => {
    const result = ruleSpec({ annotations: { [OUT]: 'http' } });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error.field).toBe(OUT);
    expect(result.error.message).toBe(`${OUT} "http" has "http", which is not a port number`);
  });

  it.each(['10.0.0', '10.0.0.1/24', '[fd00::1]', 'fe80::1%eth0', 'node'])('refuses probe source %j', (ip) => {
    const result = ruleSpec({ probeSources: [ip] });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error.field).toBe('probeSources');
  });
});
