import { describe, expect, it } from 'vitest';
import { parsePrometheusText } from './prometheus-text.ts';

describe('parsePrometheusText', () => {
  it('reads families, samples, escaped labels and special values', () => {
    const text = parsePrometheusText(
      [
        '# HELP a_total A \\\\ help\\nline.',
        '# TYPE a_total counter',
        'a_total{x="1",y="q\\"uo\\\\te\\nnl"} 3',
        'a_total 4 1700000000000',
        '# a plain comment',
        '# TYPE h histogram',
        'h_bucket{le="+Inf"} 2',
        'h_sum NaN',
        'h_count +Inf',
        'untyped_thing -Inf',
        '',
      ].join('\n'),
    );
    expect(text.families.get('a_total')).toMatchObject({ type: 'counter', help: 'A \\ help\nline.' });
    expect(text.value('a_total', { y: 'q"uo\\te\nnl' })).toBe(3);
    expect(text.find('a_total')).toHaveLength(2);
    expect(text.families.get('h')?.samples.map((s) => s.name)).toEqual(['h_bucket', 'h_sum', 'h_count']);
    expect(text.value('h_sum')).toBeNaN();
    expect(text.value('h_count')).toBe(Number.POSITIVE_INFINITY);
    expect(text.value('untyped_thing')).toBe(Number.NEGATIVE_INFINITY);
  });

  it.each([
    ['bad name', '1abc 1'],
    ['unterminated label', 'a{x="1} 1'],
    ['unquoted label', 'a{x=1} 1'],
    ['bad escape', 'a{x="\\t"} 1'],
    ['duplicate label', 'a{x="1",x="2"} 1'],
    ['bad value', 'a one'],
    ['missing value', 'a{x="1"}'],
    ['trailing data', 'a 1 2 3'],
    ['carriage return', 'a 1\r'],
    ['bad type', '# TYPE a countr'],
    ['second TYPE', '# TYPE a counter\n# TYPE a gauge'],
  ])('refuses %s', (_name, input) => {
    expect(() => parsePrometheusText(input)).toThrow();
  });

  it('value() insists on exactly one sample', () => {
    const text = parsePrometheusText('a{x="1"} 1\na{x="2"} 2\n');
    expect(() => text.value('a')).toThrow(/found 2/);
    expect(() => text.value('b')).toThrow(/found 0/);
  });
});
