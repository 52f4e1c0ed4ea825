export {
  functionSink,
  type LineSink,
  type StreamSink,
  type StreamSinkOptions,
  streamSink,
  type WritableLike,
} from '../sink.ts';
export {
  type AccessLogBase,
  type AccessLogFormat,
  type AccessLogger,
  type AccessLogOptions,
  createAccessLogger,
  formatHttpKv,
  formatTcpKv,
  type HttpAccessLogEntry,
  type RbacOutcome,
  type TcpAccessLogEntry,
} from './access-log.ts';
export { formatResponseFlags, isResponseFlag, RESPONSE_FLAGS, type ResponseFlag } from './response-flags.ts';
