// Where log and access-log lines go. A sink receives one complete line (ending in '\n') per call.
// Writing must never throw into the caller's request path, and a slow consumer must not make
// the proxy buffer without bound: lines beyond the limit are dropped and counted.

/** Receives complete lines, each ending in '\n'. */
export interface LineSink {
  write(line: string): void;
}

/** The part of a Node/Bun writable stream a sink needs (process.stdout, fs.WriteStream, a socket). */
export interface WritableLike {
  write(chunk: string): boolean;
  readonly writableLength?: number;
}

export interface StreamSinkOptions {
  /** Drop lines while the stream holds more than this many bytes unwritten. Default 8 MiB. */
  readonly maxBufferedBytes?: number;
  /** Called for every dropped line (for a metric); must not throw. */
  readonly onDrop?: (reason: 'backpressure' | 'error') => void;
}

export interface StreamSink extends LineSink {
  /** Lines dropped so far (backpressure or a throwing stream). */
  readonly dropped: number;
}

/** A sink writing to a stream, dropping lines rather than buffering without bound. */
export function streamSink(stream: WritableLike, options: StreamSinkOptions = {}): StreamSink {
  const max = options.maxBufferedBytes ?? 8 * 1024 * 1024;
  const onDrop = options.onDrop;
  let dropped = 0;
  const drop = (reason: 'backpressure' | 'error'): void => {
    dropped++;
    if (onDrop !== undefined) {
      try {
        onDrop(reason);
      } catch {
        // a broken drop hook must not break logging
      }
    }
  };
  return {
    get dropped() {
      return dropped;
    },
    write(line: string): void {
      if ((stream.writableLength ?? 0) > max) {
        drop('backpressure');
        return;
      }
      try {
        stream.write(line);
      } catch {
        drop('error');
      }
    },
  };
}

/** A sink calling a function per line; exceptions from the function are swallowed. */
export function functionSink(fn: (line: string) => void): LineSink {
  return {
    write(line: string): void {
      try {
        fn(line);
      } catch {
        // the caller's request path must not see a logging failure
      }
    },
  };
}
