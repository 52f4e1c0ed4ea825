// Hostile and broken peers on every port: garbage bytes, TLS without a client certificate, a
// certificate from another CA / trust domain, SOCKS5 abuse and half-open floods. Each must be
// refused, counted, and leave the proxy serving. Nodes on 127.0.5.x (node-a) and 127.0.6.x (node-b).
import type { Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { createTestCa } from '@weft/ca/testing';
import { encodeFrame, FRAME, H2_PREFACE, settingsFrame } from '@weft/hbone/testing';
import { REPLY } from '@weft/proxy-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalMeshHarness, startLocalMesh } from './testing/harness.ts';
import { httpGet, readUntilClose, roundTrip, socks5Connect, tcpConnect } from './testing/net.ts';

let mesh: LocalMeshHarness;

beforeAll(async () => {
  mesh = await startLocalMesh({
    octets: [5, 6],
    config: { socks5HandshakeTimeoutMs: 300, hboneHandshakeTimeoutMs: 300 },
    deps: {},
  });
}, 60_000);

afterAll(async () => {
  await mesh?.close();
});

const ports = () => {
  const a = mesh.a.ztunnel.addresses;
  const w = a.workloads['uid-demo-echo-1'];
  if (w === undefined) throw new Error('echo-1 listeners missing');
  return [
    { name: 'hbone 15008', ...w.hbone },
    { name: 'plaintext 15006', ...w.plaintext },
    { name: 'socks5 15080', ...a.socks5 },
    { name: 'capture 15001', ...a.outboundCapture },
    { name: 'admin 15000', ...a.admin },
    { name: 'metrics 15020', ...a.metrics },
    { name: 'readiness 15021', ...a.readiness },
  ];
};

/** The mesh still works end to end: client (node-b) -> echo (node-a). */
async function stillServes(): Promise<void> {
  const r = await socks5Connect({
    proxy: mesh.b.ztunnel.addresses.socks5,
    localAddress: mesh.layout.client,
    target: { hostname: mesh.layout.echoHost, port: 80 },
  });
  expect(r.ok).toBe(true);
  if (!r.ok) return;
  expect(await roundTrip(r.socket, 'still here')).toBe('still here');
  r.socket.destroy();
  expect((await httpGet(`http://${mesh.a.ip}:15021/healthz/ready`)).status).toBe(200);
}

const GARBAGE = Buffer.from(
  '\x16\x03\x01\x00\x05garbage\r\n\r\nGET /../../admin HTTP/1.1\r\n\x00\xff\xfe'.repeat(20),
  'latin1',
);

describe('hostile peers', () => {
  it('garbage bytes on every port are refused without a crash', async () => {
    for (const p of ports()) {
      const c = await tcpConnect(p.ip, p.port, '127.0.5.99');
      expect(c.ok, p.name).toBe(true);
      if (!c.ok) continue;
      if (p.name.startsWith('plaintext')) {
        // PERMISSIVE: bytes go to the app (the echo), whatever they are.
        const echoed = await new Promise<number>((resolve) => {
          c.socket.once('data', (d: Buffer) => resolve(d.length));
          c.socket.write(GARBAGE);
        });
        expect(echoed, p.name).toBeGreaterThan(0);
        c.socket.destroy();
      } else {
        c.socket.write(GARBAGE);
        // Closed by the proxy; the HTTP ports answer 400 first.
        const got = await readUntilClose(c.socket, 3000);
        expect(got.closed, p.name).toBe(true);
        expect(got.data.startsWith('HTTP/1.1 400') || !got.data.includes('HTTP/1.1 200'), p.name).toBe(true);
      }
    }
    const rejects = mesh.a.ztunnel.telemetry.rejects;
    expect(rejects.count('hbone_handshake')).toBeGreaterThan(0);
    expect(rejects.count('socks5_bad_handshake')).toBeGreaterThan(0);
    expect(rejects.count('no_original_destination')).toBeGreaterThan(0);
    expect(rejects.count('http_bad_request')).toBeGreaterThan(0);
    await stillServes();
  });

  it('TLS without a client certificate on 15008 is refused and counted', async () => {
    const w = ports()[0] as { ip: string; port: number };
    const before = mesh.a.ztunnel.telemetry.rejects.count('hbone_tls');
    const s = tlsConnect({ host: w.ip, port: w.port, ALPNProtocols: ['h2'], rejectUnauthorized: false });
    s.on('error', () => {});
    const got = await readUntilClose(s as unknown as Socket, 3000);
    expect(got.closed).toBe(true);
    await waitFor(() => mesh.a.ztunnel.telemetry.rejects.count('hbone_tls') > before);
    await stillServes();
  });

  it('a certificate from another CA and trust domain is refused and counted', async () => {
    const evil = await createTestCa({ trustDomain: 'evil.example' });
    const cert = await evil.issue('spiffe://evil.example/ns/demo/sa/client');
    const w = ports()[0] as { ip: string; port: number };
    const before = mesh.a.ztunnel.telemetry.rejects.count('hbone_tls');
    const s = tlsConnect({
      host: w.ip,
      port: w.port,
      ALPNProtocols: ['h2'],
      key: cert.keyPem,
      cert: cert.certChainPem.join('\n'),
      rejectUnauthorized: false,
    });
    s.on('error', () => {});
    const got = await readUntilClose(s as unknown as Socket, 3000);
    expect(got.closed).toBe(true);
    await waitFor(() => mesh.a.ztunnel.telemetry.rejects.count('hbone_tls') > before);
    await stillServes();
  });

  it.each([
    { name: 'BIND', bytes: [5, 1, 0, 5, 2, 0, 1, 127, 0, 0, 1, 0, 80], reply: '05000507' },
    { name: 'UDP ASSOCIATE', bytes: [5, 1, 0, 5, 3, 0, 1, 0, 0, 0, 0, 0, 0], reply: '05000507' },
    { name: 'only username/password offered', bytes: [5, 1, 2], reply: '05ff' },
    { name: 'unknown address type', bytes: [5, 1, 0, 5, 1, 0, 9, 1], reply: '05000508' },
  ])('SOCKS5 $name gets the RFC 1928 reply and a close', async ({ bytes, reply }) => {
    const c = await tcpConnect(mesh.b.ip, mesh.b.ztunnel.addresses.socks5.port, mesh.layout.client);
    expect(c.ok).toBe(true);
    if (!c.ok) return;
    c.socket.write(Buffer.from(bytes));
    const got = await readUntilClose(c.socket, 3000);
    expect(Buffer.from(got.data, 'latin1').toString('hex').slice(0, reply.length)).toBe(reply);
    expect(got.closed).toBe(true);
  });

  it('SOCKS5 from an address that is no workload is refused with "not allowed" and counted', async () => {
    const r = await socks5Connect({
      proxy: mesh.b.ztunnel.addresses.socks5,
      localAddress: '127.0.6.99',
      target: { hostname: mesh.layout.echoHost, port: 80 },
    });
    expect(r.ok ? 'connected' : r.reply).toBe(REPLY.notAllowed);
    expect(mesh.b.ztunnel.telemetry.rejects.count('unknown_source')).toBe(1);
  });

  it('SOCKS5 to an unknown mesh hostname answers host unreachable', async () => {
    const r = await socks5Connect({
      proxy: mesh.b.ztunnel.addresses.socks5,
      localAddress: mesh.layout.client,
      target: { hostname: 'nope.demo.svc.cluster.local', port: 80 },
    });
    expect(r.ok ? 'connected' : r.reply).toBe(REPLY.hostUnreachable);
  });

  it('a SOCKS5 handshake that stalls is closed', async () => {
    const c = await tcpConnect(mesh.b.ip, mesh.b.ztunnel.addresses.socks5.port, mesh.layout.client);
    if (!c.ok) throw new Error(c.error);
    c.socket.write(Buffer.from([5, 1]));
    const got = await readUntilClose(c.socket, 5000);
    expect(got.closed).toBe(true);
    await waitFor(() => mesh.b.ztunnel.telemetry.rejects.count('socks5_handshake_timeout') > 0);
  });

  it('half-open floods (200 silent connections) on every port: bounded, no crash, serving after', async () => {
    for (const p of ports()) {
      const opened = await Promise.all(
        Array.from({ length: 200 }, () => tcpConnect(p.ip, p.port, '127.0.5.98')),
      );
      const sockets = opened.flatMap((o) => (o.ok ? [o.socket] : []));
      for (const s of sockets) s.on('error', () => {});
      // While the flood sits there, the node still answers its readiness port.
      expect((await httpGet(`http://${mesh.a.ip}:15021/healthz/ready`)).status, p.name).toBe(200);
      for (const s of sockets) s.destroy();
    }
    await stillServes();
  });
});

describe('peers that send garbage and reset', () => {
  it('a reset (RST) after garbage or mid-handshake on every data listener leaves the node serving', async () => {
    const listeners = ports().filter((p) => /hbone|plaintext|socks5|capture/.test(p.name));
    expect(listeners).toHaveLength(4);
    for (const p of listeners) {
      for (const bytes of [GARBAGE, Buffer.from([5, 1, 0]), Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00])]) {
        const opened = await Promise.all(
          Array.from({ length: 20 }, () => tcpConnect(p.ip, p.port, '127.0.5.97')),
        );
        for (const o of opened) {
          if (!o.ok) continue;
          o.socket.on('error', () => {});
          o.socket.write(bytes);
          reset(o.socket);
        }
      }
    }
    // A TLS client that resets right after its handshake (the server is writing SETTINGS).
    const cert = await mesh.issue('b', 'spiffe://cluster.local/ns/demo/sa/client');
    const w = ports()[0] as { ip: string; port: number };
    for (let i = 0; i < 10; i++) {
      const raw = await tcpConnect(w.ip, w.port, '127.0.5.97');
      if (!raw.ok) throw new Error(raw.error);
      raw.socket.on('error', () => {});
      const s = tlsConnect({
        socket: raw.socket,
        ALPNProtocols: ['h2'],
        key: cert.keyPem,
        cert: cert.certChainPem.join('\n'),
        rejectUnauthorized: false,
      });
      s.on('error', () => {});
      await new Promise<void>((resolve) => {
        s.once('secureConnect', () => {
          s.write(Buffer.concat([H2_PREFACE, settingsFrame()]));
          reset(raw.socket);
          resolve();
        });
        s.once('close', () => resolve());
      });
    }
    await stillServes();
  });

  it('a burst of HTTP/2 streams opened and cancelled on 15008: ENHANCE_YOUR_CALM for that connection only', async () => {
    const cert = await mesh.issue('b', 'spiffe://cluster.local/ns/demo/sa/client');
    const w = ports()[0] as { ip: string; port: number };
    const before = mesh.a.ztunnel.telemetry.rejects.count('hbone_limit');
    const s = tlsConnect({
      host: w.ip,
      port: w.port,
      ALPNProtocols: ['h2'],
      minVersion: 'TLSv1.3',
      key: cert.keyPem,
      cert: cert.certChainPem.join('\n'),
      rejectUnauthorized: false,
    });
    s.on('error', () => {});
    let received = Buffer.alloc(0);
    s.on('data', (d: Buffer) => {
      received = Buffer.concat([received, d]);
    });
    const closed = new Promise<void>((resolve) => s.once('close', () => resolve()));
    await new Promise<void>((resolve) => s.once('secureConnect', () => resolve()));
    const frames: Buffer[] = [H2_PREFACE, settingsFrame()];
    for (let i = 0; i < 400; i++) {
      const id = 1 + 2 * i;
      frames.push(
        connectHeaders(id, `${mesh.layout.echo1}:8080`),
        encodeFrame(FRAME.RST_STREAM, 0, id, Buffer.from([0, 0, 0, 0x8])), // CANCEL
      );
    }
    s.write(Buffer.concat(frames));
    await closed;
    expect(mesh.a.ztunnel.telemetry.rejects.count('hbone_limit')).toBe(before + 1);
    // The GOAWAY can be lost when the socket is torn down while the peer still writes; when it
    // arrives it says ENHANCE_YOUR_CALM (0xb).
    const goaway = framesOf(received).find((f) => f.type === FRAME.GOAWAY);
    if (goaway !== undefined) expect(goaway.payload.readUInt32BE(4)).toBe(0xb);
    await stillServes();
  });
});

/** RST, not FIN: the proxy's next read or write on it fails with ECONNRESET / EPIPE. */
function reset(socket: Socket): void {
  if (typeof socket.resetAndDestroy === 'function') socket.resetAndDestroy();
  else socket.destroy();
}

/** HEADERS (END_HEADERS) for CONNECT to `authority`, HPACK literals without indexing. */
function connectHeaders(streamId: number, authority: string): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of [
    [':method', 'CONNECT'],
    [':authority', authority],
  ] as const) {
    parts.push(
      Buffer.from([0x00, name.length]),
      Buffer.from(name),
      Buffer.from([value.length]),
      Buffer.from(value),
    );
  }
  return encodeFrame(FRAME.HEADERS, 0x4, streamId, Buffer.concat(parts));
}

function framesOf(buf: Buffer): { type: number; payload: Buffer }[] {
  const out: { type: number; payload: Buffer }[] = [];
  let off = 0;
  while (off + 9 <= buf.length) {
    const len = buf.readUIntBE(off, 3);
    if (off + 9 + len > buf.length) break;
    out.push({ type: buf[off + 3] as number, payload: buf.subarray(off + 9, off + 9 + len) });
    off += 9 + len;
  }
  return out;
}

async function waitFor(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
