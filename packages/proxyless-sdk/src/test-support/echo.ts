// A programmatic echo service (raw bytes) and small helpers shared by this package's tests.
import { createServer } from 'node:net';
import * as grpc from '@grpc/grpc-js';

export const ECHO_PATH = '/weft.test.Echo/Echo';
export const ADMIN_PATH = '/weft.test.Echo/Admin';
const passthrough = (b: Buffer): Buffer => b;
const unary = (path: string): grpc.MethodDefinition<Buffer, Buffer> => ({
  path,
  requestStream: false,
  responseStream: false,
  requestSerialize: passthrough,
  requestDeserialize: passthrough,
  responseSerialize: passthrough,
  responseDeserialize: passthrough,
});
export const echoService: grpc.ServiceDefinition = { Echo: unary(ECHO_PATH), Admin: unary(ADMIN_PATH) };

/** Replies `<reply>|<peer identity or "-">`. */
export function echoImplementation(reply: string): grpc.UntypedServiceImplementation {
  const handler = (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>): void => {
    const san = call.getAuthContext?.().sslPeerCertificate?.subjectaltname ?? '-';
    cb(null, Buffer.from(`${reply}|${san}`));
  };
  return { Echo: handler, Admin: handler };
}

export function callUnary(client: grpc.Client, path: string, deadlineMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) =>
    client.makeUnaryRequest(
      path,
      passthrough,
      passthrough,
      Buffer.from('hi'),
      new grpc.Metadata(),
      { deadline: Date.now() + deadlineMs },
      (err, res) => (err || res === undefined ? reject(err) : resolve(res.toString())),
    ),
  );
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '0.0.0.0', () => {
      const a = s.address();
      const port = typeof a === 'object' && a !== null ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}
