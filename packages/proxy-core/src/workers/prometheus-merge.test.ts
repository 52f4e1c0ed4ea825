import { describe, expect, it } from 'vitest';
import { mergePrometheusTexts, splitSample } from './prometheus-merge.ts';

describe('splitSample', () => {
  it.each([
    ['a_total 3', { key: 'a_total', name: 'a_total', value: 3 }],
    ['a_total{x="1"} 3', { key: 'a_total{x="1"}', name: 'a_total', value: 3 }],
    ['a{x="sp ace",y="q\\"}"} 1.5', { key: 'a{x="sp ace",y="q\\"}"}', name: 'a', value: 1.5 }],
    ['h_bucket{le="+Inf"} 7 1700000000000', { key: 'h_bucket{le="+Inf"}', name: 'h_bucket', value: 7 }],
    ['g +Inf', { key: 'g', name: 'g', value: Number.POSITIVE_INFINITY }],
  ])('%s', (line, want) => {
    expect(splitSample(line)).toEqual(want);
  });
  it.each(['', '9bad 1', 'a{x="1" 2', 'a', 'a one', 'a 1 2 3'])('refuses %j', (line) => {
    expect(splitSample(line)).toBeUndefined();
  });
});

describe('mergePrometheusTexts', () => {
  const w1 = [
    '# HELP req_total Requests.',
    '# TYPE req_total counter',
    'req_total{code="200"} 3',
    '# TYPE lat histogram',
    'lat_bucket{le="1"} 1',
    'lat_bucket{le="+Inf"} 3',
    'lat_sum 2.5',
    'lat_count 3',
    '# TYPE open gauge',
    'open 2',
    '# TYPE cert_expiry_seconds gauge',
    'cert_expiry_seconds 1700',
    '',
  ].join('\n');
  const w2 = [
    '# HELP req_total Requests.',
    '# TYPE req_total counter',
    'req_total{code="200"} 4',
    'req_total{code="503"} 1',
    '# TYPE lat histogram',
    'lat_bucket{le="1"} 0',
    'lat_bucket{le="+Inf"} 5',
    'lat_sum 7',
    'lat_count 5',
    '# TYPE open gauge',
    'open 1',
    '# TYPE cert_expiry_seconds gauge',
    'cert_expiry_seconds 1800',
    'this is not a sample',
    '',
  ].join('\n');

  it('sums counters, histograms and count gauges; takes the largest point-in-time gauge', () => {
    const r = mergePrometheusTexts([w1, w2]);
    expect(r.malformed).toBe(1);
    expect(r.text).toBe(
      [
        '# HELP req_total Requests.',
        '# TYPE req_total counter',
        'req_total{code="200"} 7',
        'req_total{code="503"} 1',
        '# TYPE lat histogram',
        'lat_bucket{le="1"} 1',
        'lat_bucket{le="+Inf"} 8',
        'lat_sum 9.5',
        'lat_count 8',
        '# TYPE open gauge',
        'open 3',
        '# TYPE cert_expiry_seconds gauge',
        'cert_expiry_seconds 1800',
        '',
      ].join('\n'),
    );
  });

  it('one text comes back as it was; none gives nothing', () => {
    expect(mergePrometheusTexts([w1]).text).toBe(w1);
    expect(mergePrometheusTexts([]).text).toBe('');
  });
});
