#!/usr/bin/env node
// weft-echo --listen 127.0.10.1:8080 --service echo --version v1 [--pod echo-v1] [--fail-every 3]
import { parseArgs } from 'node:util';
import { startEchoServer } from './echo-server.ts';

const { values } = parseArgs({
  options: {
    listen: { type: 'string', default: '127.0.0.1:8080' },
    service: { type: 'string', default: 'echo' },
    version: { type: 'string', default: 'v1' },
    pod: { type: 'string' },
    'fail-every': { type: 'string' },
  },
});
const listen = values.listen ?? '127.0.0.1:8080';
const cut = listen.lastIndexOf(':');
const host = listen.slice(0, cut).replace(/^\[|\]$/g, '');
const port = Number(listen.slice(cut + 1));
if (cut < 0 || !Number.isInteger(port) || port < 1 || port > 65535) {
  console.error(`weft-echo: --listen must be host:port, got ${JSON.stringify(listen)}`);
  process.exit(2);
}
const failEvery = values['fail-every'] === undefined ? undefined : Number(values['fail-every']);
const server = await startEchoServer({
  host,
  port,
  service: values.service ?? 'echo',
  version: values.version ?? 'v1',
  ...(values.pod ? { pod: values.pod } : {}),
  ...(failEvery !== undefined ? { failEvery } : {}),
});
console.log(`weft-echo listening on ${server.address.address}:${server.address.port}`);
const stop = (): void => {
  void server.close().then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
