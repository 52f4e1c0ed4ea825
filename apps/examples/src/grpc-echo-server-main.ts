#!/usr/bin/env node
// weft-grpc-echo-server --pod demo/echo-v1 --service-account echo --xds-address 127.0.0.1:15010 \
//   --token-file /var/run/secrets/tokens/weft --listen 8080 [--version v1]
// A proxyless gRPC server: weftd's Listener for 0.0.0.0:<listen> decides its TLS, the SDK's
// interceptor decides each call with the pod's authorization policies.
import { parseArgs } from 'node:util';
import { createProxylessServer } from '@weft/proxyless-sdk';
import { startGrpcEchoServer } from './grpc-echo.ts';
import { PROXYLESS_FLAGS_HELP, policiesFromFile, proxylessFlagSpec, proxylessOptions } from './grpc-flags.ts';

const USAGE = `usage: weft-grpc-echo-server [flags]
${PROXYLESS_FLAGS_HELP}
  --listen <port>            port to serve on 0.0.0.0 (default 8080)
  --version <v>              reported in replies (default v1)
  --listen-timeout-ms <ms>   give up when weftd sends no Listener (default 30000)
  --policy-file <path>       AuthorizationPolicy manifests (YAML/JSON) applied to this server as
                             given, instead of the pod's policies from weftd`;

const { values } = parseArgs({
  options: {
    ...proxylessFlagSpec,
    listen: { type: 'string', default: '8080' },
    version: { type: 'string', default: 'v1' },
    'listen-timeout-ms': { type: 'string', default: '30000' },
    'policy-file': { type: 'string' },
  },
});
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const options = proxylessOptions(values);
const port = Number(values.listen);
if (typeof options === 'string' || !Number.isInteger(port) || port < 1 || port > 65535) {
  console.error(
    `weft-grpc-echo-server: ${typeof options === 'string' ? options : '--listen must be a port 1..65535'}\n${USAGE}`,
  );
  process.exit(2);
}
const policyFile = values['policy-file'];
const proxyless = await (async () =>
  createProxylessServer({
    ...options,
    ...(policyFile !== undefined ? { policies: await policiesFromFile(policyFile) } : {}),
  }))().catch((err: unknown) => {
  console.error(`weft-grpc-echo-server: ${(err as Error).message}`);
  process.exit(1);
});
const podName = options.pod.slice(options.pod.indexOf('/') + 1);
try {
  const echo = await startGrpcEchoServer({
    proxyless,
    port,
    pod: podName,
    version: values.version ?? 'v1',
    listenTimeoutMs: Number(values['listen-timeout-ms']),
  });
  console.log(`weft-grpc-echo-server ${options.pod} (${proxyless.identity}) serving on 0.0.0.0:${echo.port}`);
  const stop = (): void => {
    void echo
      .close()
      .then(() => proxyless.close())
      .then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
} catch (err) {
  console.error(`weft-grpc-echo-server: ${(err as Error).message}`);
  await proxyless.close();
  process.exit(1);
}
