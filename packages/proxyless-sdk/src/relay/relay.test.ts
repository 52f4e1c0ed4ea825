import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { DELTA_METHOD_PATH, SOTW_METHOD_PATH } from '@weft/xds-protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { tokenProvider } from '../token.ts';
import { startXdsRelay, type XdsRelay } from './relay.ts';

const id = (b: Buffer): Buffer => b;
const bidi = (path: string): grpc.MethodDefinition<Buffer, Buffer> => ({
  path,
  requestStream: true,
  responseStream: true,
  requestSerialize: id,
  requestDeserialize: id,
  responseSerialize: id,
  responseDeserialize: id,
});

/** An upstream that answers each message with `<path>:` + the bytes, and records metadata. */
async function startUpstream(behaviour: 'echo' | 'fail' = 'echo') {
  const seen: Array<{ path: string; authorization: string[] }> = [];
  const server = new grpc.Server();
  const handler = (path: string) => (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
    seen.push({ path, authorization: call.metadata.get('authorization').map(String) });
    call.on('error', () => {});
    if (behaviour === 'fail') {
      call.emit('error', { code: grpc.status.PERMISSION_DENIED, details: 'node id not admitted' });
      return;
    }
    call.on('data', (b: Buffer) => call.write(Buffer.concat([Buffer.from(`${path.slice(-5)}:`), b])));
    call.on('end', () => call.end());
  };
  server.addService(
    { Sotw: bidi(SOTW_METHOD_PATH), Delta: bidi(DELTA_METHOD_PATH) },
    { Sotw: handler(SOTW_METHOD_PATH), Delta: handler(DELTA_METHOD_PATH) },
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) =>
      e ? reject(e) : resolve(p),
    ),
  );
  return { address: `127.0.0.1:${port}`, seen, close: () => server.forceShutdown() };
}

function exchange(
  relay: XdsRelay,
  path: string,
  messages: Buffer[],
): Promise<{ replies: Buffer[]; error?: grpc.ServiceError }> {
  const client = new grpc.Client(relay.address, grpc.credentials.createInsecure());
  const call = client.makeBidiStreamRequest(path, id, id);
  const replies: Buffer[] = [];
  return new Promise((resolve) => {
    call.on('data', (b: Buffer) => {
      replies.push(b);
      if (replies.length === messages.length) call.end();
    });
    call.on('error', (error: grpc.ServiceError) => {
      client.close();
      resolve({ replies, error });
    });
    call.on('status', (s: grpc.StatusObject) => {
      if (s.code === grpc.status.OK) {
        client.close();
        resolve({ replies });
      }
    });
    for (const m of messages) call.write(m);
  });
}

describe('xDS relay', () => {
  const cleanup: Array<() => unknown> = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });

  it('forwards SotW and delta streams byte for byte and adds the bearer token', async () => {
    const up = await startUpstream();
    cleanup.push(up.close);
    const relay = await startXdsRelay({
      upstream: up.address,
      token: tokenProvider({ token: 'tok-0123456789abcdef' }),
    });
    cleanup.push(() => relay.close());
    expect(relay.address).toMatch(/^127\.0\.0\.1:\d+$/);
    // Not protobuf at all: the relay never decodes.
    const odd = Buffer.from([0x0a, 0xff, 0x00, 0x80, 0x80, 0x80]);
    const big = Buffer.alloc(3 * 1024 * 1024, 7);
    const sotw = await exchange(relay, SOTW_METHOD_PATH, [odd, big]);
    expect(sotw.error).toBeUndefined();
    expect(sotw.replies[0]).toEqual(Buffer.concat([Buffer.from('urces:'), odd]));
    expect(sotw.replies[1]?.length).toBe(big.length + 6);
    const delta = await exchange(relay, DELTA_METHOD_PATH, [Buffer.from('x')]);
    expect(delta.replies.map(String)).toEqual(['urces:x']);
    expect(up.seen).toEqual([
      { path: SOTW_METHOD_PATH, authorization: ['Bearer tok-0123456789abcdef'] },
      { path: DELTA_METHOD_PATH, authorization: ['Bearer tok-0123456789abcdef'] },
    ]);
    expect(relay.stats()).toMatchObject({ streams: 2, messagesUp: 3, messagesDown: 3 });
  });

  it('re-reads a token file for every stream', async () => {
    const up = await startUpstream();
    cleanup.push(up.close);
    const file = join(await mkdtemp(join(tmpdir(), 'relay-')), 'token');
    await writeFile(file, 'first-token-0123456789\n');
    const relay = await startXdsRelay({ upstream: up.address, token: tokenProvider({ tokenFile: file }) });
    cleanup.push(() => relay.close());
    await exchange(relay, SOTW_METHOD_PATH, [Buffer.from('a')]);
    await writeFile(file, 'second-token-0123456789\n');
    await exchange(relay, SOTW_METHOD_PATH, [Buffer.from('b')]);
    expect(up.seen.map((s) => s.authorization[0])).toEqual([
      'Bearer first-token-0123456789',
      'Bearer second-token-0123456789',
    ]);
  });

  it("passes weftd's refusal on and survives an unreadable token or an absent weftd", async () => {
    const up = await startUpstream('fail');
    cleanup.push(up.close);
    const relay = await startXdsRelay({
      upstream: up.address,
      token: tokenProvider({ token: 'tok-0123456789abcdef' }),
    });
    cleanup.push(() => relay.close());
    const refused = await exchange(relay, SOTW_METHOD_PATH, [Buffer.from('a')]);
    expect(refused.error?.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(refused.error?.details).toContain('node id not admitted');

    const noToken = await startXdsRelay({
      upstream: up.address,
      token: tokenProvider({ tokenFile: '/nonexistent/token' }),
    });
    cleanup.push(() => noToken.close());
    const r = await exchange(noToken, SOTW_METHOD_PATH, [Buffer.from('a')]);
    expect(r.error?.code).toBe(grpc.status.UNAVAILABLE);
    expect(r.error?.details).toContain('token');

    const nowhere = await startXdsRelay({
      upstream: '127.0.0.1:1',
      token: tokenProvider({ token: 'tok-0123456789abcdef' }),
    });
    cleanup.push(() => nowhere.close());
    const n = await exchange(nowhere, SOTW_METHOD_PATH, [Buffer.from('a')]);
    expect(n.error?.code).toBe(grpc.status.UNAVAILABLE);
  });
});
