#!/usr/bin/env node
// weft-client --socks 127.0.2.1:15080 --source 127.0.10.2 http://echo.demo.svc.cluster.local:8080/
// Sends --count requests and prints one line per reply (status, version, pod), then a summary.
import { parseArgs } from 'node:util';
import { meshRequest } from './mesh-client.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    socks: { type: 'string' },
    source: { type: 'string' },
    count: { type: 'string', default: '1' },
    method: { type: 'string', default: 'GET' },
    header: { type: 'string', multiple: true },
  },
});
const url = positionals[0];
if (url === undefined) {
  console.error(
    'usage: weft-client [--socks host:port] [--source ip] [--count n] [--method M] [--header k:v] URL',
  );
  process.exit(2);
}
let socks: { host: string; port: number } | undefined;
if (values.socks !== undefined) {
  const cut = values.socks.lastIndexOf(':');
  socks = { host: values.socks.slice(0, cut), port: Number(values.socks.slice(cut + 1)) };
}
const headers: Record<string, string> = {};
for (const h of values.header ?? []) {
  const cut = h.indexOf(':');
  if (cut > 0) headers[h.slice(0, cut).trim()] = h.slice(cut + 1).trim();
}
const counts = new Map<string, number>();
let failed = 0;
const count = Number(values.count ?? '1');
for (let i = 0; i < count; i++) {
  try {
    const res = await meshRequest({
      url,
      method: values.method ?? 'GET',
      headers,
      ...(socks ? { socks } : {}),
      ...(values.source ? { source: values.source } : {}),
    });
    let who = '';
    try {
      const body = JSON.parse(res.body) as { version?: string; pod?: string };
      who = `${body.version ?? '?'} ${body.pod ?? '?'}`;
    } catch {
      who = res.body.trim().slice(0, 80);
    }
    const key = `${res.status} ${who}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
    if (count <= 10) console.log(key);
  } catch (err) {
    failed += 1;
    if (count <= 10) console.log(`error ${(err as Error).message}`);
  }
}
if (count > 10) for (const [key, n] of counts) console.log(`${n}\t${key}`);
if (failed > 0) console.log(`${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
