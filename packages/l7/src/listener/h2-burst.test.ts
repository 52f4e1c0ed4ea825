// One HTTP/2 connection that opens and cancels thousands of streams in one read (HEADERS then
// RST_STREAM, every error code a client may pick): the runtime closes those streams before the
// listener sees them, and a reset with an error code makes a stream emit 'error'. The connection
// gets GOAWAY ENHANCE_YOUR_CALM and is closed, the flood is counted once, and everyone else is
// still served.
import { type ClientHttp2Session, connect as h2connect } from 'node:http2';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { H2_ERROR, openAndCancelBurst, readFrames } from '../test-support/h2-raw.ts';
import { CLIENT, SHOP, serviceWith, WEB_VIP } from '../test-support/mesh.ts';
import {
  type HttpUpstream,
  httpRequest,
  startHttpUpstream,
  startTestProxy,
  type TestProxy,
} from '../testing/index.ts';

// Bun's HTTP/2 server closes such a connection itself (no GOAWAY) before any of its streams
// reaches the listener; what must hold there too: closed, nothing crashed, others served.
const isBun = typeof (globalThis as { Bun?: unknown }).Bun !== 'undefined';
let up: HttpUpstream;
let proxy: TestProxy;

beforeAll(async () => {
  up = await startHttpUpstream({ name: 'web', ip: '127.0.0.42' });
  proxy = await startTestProxy([...SHOP, ...serviceWith([{ name: 'web-1', ip: up.ip, port: up.port }])], {
    destination: { ip: WEB_VIP, port: 80 },
    principal: CLIENT,
  });
});
afterAll(async () => {
  await proxy.close();
  await up.close();
});

function h2get(path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s: ClientHttp2Session = h2connect(`http://127.0.0.1:${proxy.port}`);
    s.on('error', reject);
    const st = s.request({ ':path': path, ':authority': 'web' });
    st.on('response', (h) => {
      st.resume();
      st.on('end', () => {
        s.close();
        resolve(Number(h[':status']));
      });
    });
    st.on('error', reject);
    st.end();
  });
}

describe('HTTP/2 open-and-cancel burst on one connection', () => {
  it.each([
    ['CANCEL', H2_ERROR.CANCEL],
    ['REFUSED_STREAM', H2_ERROR.REFUSED_STREAM],
    ['INTERNAL_ERROR', H2_ERROR.INTERNAL_ERROR],
    ['PROTOCOL_ERROR', H2_ERROR.PROTOCOL_ERROR],
  ])(
    '2000 streams reset with %s: GOAWAY ENHANCE_YOUR_CALM, closed, counted once, others served',
    async (_n, code) => {
      const before = proxy.engine.telemetry.rejects.count('rapid_reset');
      const c = connect(proxy.port, '127.0.0.1');
      const out = readFrames(c, { timeoutMs: 10_000 });
      c.write(openAndCancelBurst(2000, 'web', code));
      const o = await out;
      expect(o.closed).toBe(true);
      if (!isBun) {
        expect(o.goaways).toContain(H2_ERROR.ENHANCE_YOUR_CALM);
        expect(proxy.engine.telemetry.rejects.count('rapid_reset')).toBe(before + 1);
      }
      expect(await h2get('/after-burst')).toBe(200);
      expect((await httpRequest(proxy.port, { path: '/after-burst' })).status).toBe(200);
    },
  );
});
