export {
  functionSink,
  type LineSink,
  type StreamSink,
  type StreamSinkOptions,
  streamSink,
  type WritableLike,
} from '../sink.ts';
export type { Clock } from '../time/clock.ts';
export {
  createLogger,
  fromPino,
  type LogFields,
  type LogFormat,
  type Logger,
  type LoggerOptions,
  type LogLevel,
  type LogLevelSetting,
  noopLogger,
  type PinoLike,
  parseLogLevel,
} from './logger.ts';
