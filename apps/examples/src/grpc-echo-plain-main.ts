#!/usr/bin/env node
// weft-grpc-echo-plain --listen 0.0.0.0:9093 --pod grpc-ambient [--version v1]
// The examples' gRPC Echo service as a plain app with no mesh library: h2c without TLS. In an
// ambient or sidecar pod its node's ztunnel or its sidecar brings it into the mesh (a proxyless
// caller's mesh mTLS is terminated in front of it), so it reports no caller identity itself.
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { type EchoRequest, echoDefinition, type GrpcEchoReply } from './grpc-echo.ts';

const { values } = parseArgs({
  options: {
    listen: { type: 'string', default: '0.0.0.0:9093' },
    pod: { type: 'string', default: 'grpc-plain' },
    version: { type: 'string', default: 'v1' },
  },
});
const listen = values.listen ?? '0.0.0.0:9093';
if (!/^(\[[0-9a-fA-F:.]+\]|[0-9.]+):\d{1,5}$/.test(listen)) {
  console.error(`weft-grpc-echo-plain: --listen must be ip:port, got ${JSON.stringify(listen)}`);
  process.exit(2);
}
const server = new grpc.Server();
const answer = (
  call: grpc.ServerUnaryCall<EchoRequest, GrpcEchoReply>,
  cb: grpc.sendUnaryData<GrpcEchoReply>,
) =>
  cb(null, {
    message: call.request.message,
    pod: values.pod ?? '',
    version: values.version ?? 'v1',
    peer: '',
  });
server.addService(echoDefinition().service, { Echo: answer, Admin: answer });
server.bindAsync(listen, grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err !== null) {
    console.error(`weft-grpc-echo-plain: cannot listen on ${listen}: ${err.message}`);
    process.exit(1);
  }
  console.log(`weft-grpc-echo-plain ${values.pod} serving on ${listen.replace(/:\d+$/, '')}:${port}`);
});
const stop = () => server.tryShutdown(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
