import { describe, expect, it } from 'vitest';
import { functionSink, streamSink } from './sink.ts';

describe('streamSink', () => {
  it('writes lines to the stream', () => {
    const chunks: string[] = [];
    const sink = streamSink({ write: (c) => chunks.push(c) > 0 });
    sink.write('a\n');
    expect(chunks).toEqual(['a\n']);
    expect(sink.dropped).toBe(0);
  });

  it('drops and counts lines while the stream is over its buffer limit', () => {
    const drops: string[] = [];
    const stream = { writableLength: 100, write: () => false };
    const sink = streamSink(stream, { maxBufferedBytes: 10, onDrop: (r) => drops.push(r) });
    sink.write('a\n');
    sink.write('b\n');
    expect(sink.dropped).toBe(2);
    expect(drops).toEqual(['backpressure', 'backpressure']);
  });

  it('counts a throwing stream as a drop and never throws', () => {
    const sink = streamSink({
      write() {
        throw new Error('EPIPE');
      },
    });
    expect(() => sink.write('a\n')).not.toThrow();
    expect(sink.dropped).toBe(1);
  });
});

describe('functionSink', () => {
  it('calls the function and swallows its errors', () => {
    const seen: string[] = [];
    functionSink((l) => seen.push(l)).write('x\n');
    expect(seen).toEqual(['x\n']);
    const bad = functionSink(() => {
      throw new Error('no');
    });
    expect(() => bad.write('x\n')).not.toThrow();
  });
});
