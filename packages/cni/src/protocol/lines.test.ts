import { describe, expect, it } from 'vitest';
import { LineSplitter } from './lines.ts';

describe('LineSplitter', () => {
  it('joins chunks and splits lines, including a split UTF-8 character', () => {
    const s = new LineSplitter();
    const bytes = Buffer.from('{"a":"é"}\r\nsecond\nthi');
    expect(s.push(bytes.subarray(0, 7))).toEqual([]);
    expect(s.push(bytes.subarray(7))).toEqual([{ line: '{"a":"é"}' }, { line: 'second' }]);
    expect(s.push('rd\n')).toEqual([{ line: 'third' }]);
  });

  it('skips an oversized line up to its newline, reporting it once', () => {
    const s = new LineSplitter(8);
    expect(s.push('0123456789')).toEqual([{ oversized: true }]);
    expect(s.push('abcdefghij')).toEqual([]);
    expect(s.push('tail\nok\n')).toEqual([{ line: 'ok' }]);
    expect(s.push('0123456789\nok\n')).toEqual([{ oversized: true }, { line: 'ok' }]);
  });
});
