#!/usr/bin/env node
// weft-grpc-echo-client --pod demo/client-1 --service-account client --xds-address 127.0.0.1:15010 \
//   --token-file /var/run/secrets/tokens/weft --target echo.demo.svc.cluster.local:8080 [--calls 20] [--method Echo]
// Calls xds:///<target> through the SDK and prints each reply, then a JSON tally (who served how
// many calls, which errors came back). Exit 0 when every call succeeded, 1 otherwise.
import { parseArgs } from 'node:util';
import { createProxylessClient } from '@weft/proxyless-sdk';
import { createGrpcEchoClient, type EchoMethod, runEchoCalls } from './grpc-echo.ts';
import { PROXYLESS_FLAGS_HELP, proxylessFlagSpec, proxylessOptions } from './grpc-flags.ts';

const USAGE = `usage: weft-grpc-echo-client [flags]
${PROXYLESS_FLAGS_HELP}
  --target <host:port>       the service, e.g. echo.demo.svc.cluster.local:8080 (required)
  --calls <n>                how many calls (default 10)
  --method <Echo|Admin>      which method (default Echo)`;

const { values } = parseArgs({
  options: {
    ...proxylessFlagSpec,
    target: { type: 'string' },
    calls: { type: 'string', default: '10' },
    method: { type: 'string', default: 'Echo' },
  },
});
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const options = proxylessOptions(values);
const target = values.target ?? '';
const cut = target.lastIndexOf(':');
const port = Number(target.slice(cut + 1));
const calls = Number(values.calls);
const method = values.method as EchoMethod;
const problem =
  typeof options === 'string'
    ? options
    : cut <= 0 || !Number.isInteger(port) || port < 1 || port > 65535
      ? '--target must be host:port'
      : !Number.isInteger(calls) || calls < 1
        ? '--calls must be a positive integer'
        : method !== 'Echo' && method !== 'Admin'
          ? '--method must be Echo or Admin'
          : undefined;
if (problem !== undefined || typeof options === 'string') {
  console.error(`weft-grpc-echo-client: ${problem}\n${USAGE}`);
  process.exit(2);
}
const proxyless = await createProxylessClient(options).catch((err: unknown) => {
  console.error(`weft-grpc-echo-client: ${(err as Error).message}`);
  process.exit(1);
});
const client = createGrpcEchoClient(proxyless, target.slice(0, cut), port);
const tally = await runEchoCalls(client, method, calls, (n, r) => {
  console.log(
    'pod' in r
      ? `${n}: ${r.pod} ${r.version} (caller ${r.peer || 'without certificate'})`
      : `${n}: error ${r.code} ${r.details}`,
  );
});
console.log(JSON.stringify(tally));
client.close();
await proxyless.close();
process.exit(tally.ok === calls ? 0 : 1);
