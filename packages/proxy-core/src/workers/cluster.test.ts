// Multi-worker proxies as processes: a fixture (test-fixtures/workers.mjs) that runs N workers
// sharing a TCP port and an HTTP endpoint. Connections spread over the workers; a metrics scrape,
// whichever worker takes it, counts every worker's answers; readiness waits for every worker; a
// killed worker is replaced; SIGTERM stops them all; a worker that cannot start stops the proxy.
import { type ChildProcess, spawn } from 'node:child_process';
import { request } from 'node:http';
import { connect, createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { combineAnswers, WORKER_SEMI_SPACE_MIB, workerExecArgv } from './cluster.ts';

const isBun = typeof (globalThis as { Bun?: unknown }).Bun !== 'undefined';
const FIXTURE = fileURLToPath(new URL('../../test-fixtures/workers.mjs', import.meta.url));

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a !== null ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

function askData(port: number): Promise<{ worker: string; pid: number }> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    // A connection handed to a worker the moment it is killed is lost (as in any proxy crash).
    s.setTimeout(2_000, () => s.destroy(new Error('no answer within 2 s')));
    let text = '';
    s.setEncoding('utf8');
    s.on('data', (c: string) => {
      text += c;
    });
    s.on('end', () => {
      const [worker = '', pid = ''] = text.trim().split(' ');
      resolve({ worker, pid: Number(pid) });
    });
    s.on('error', reject);
  });
}

interface Fixture {
  readonly child: ChildProcess;
  readonly dataPort: number;
  readonly httpPort: number;
  stderr: string;
  readonly exited: Promise<number | null>;
}

const started: Fixture[] = [];

async function startFixture(
  concurrency: number,
  opts: { notReady?: string; dataPort?: number } = {},
): Promise<Fixture> {
  const dataPort = opts.dataPort ?? (await freePort());
  const httpPort = await freePort();
  const args = [FIXTURE, String(concurrency), String(dataPort), String(httpPort), opts.notReady ?? ''];
  const child = spawn(process.execPath, isBun ? ['--conditions=weft-source', ...args] : args, {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const f: Fixture = {
    child,
    dataPort,
    httpPort,
    stderr: '',
    exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))),
  };
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (c: string) => {
    f.stderr += c;
  });
  started.push(f);
  return f;
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what}: not within ${timeoutMs} ms (${String(last)})`);
}

const serving = (f: Fixture) =>
  until('workers serving', async () => (f.stderr.includes('workers serving') ? true : undefined));

function sample(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  if (line === undefined) throw new Error(`no ${name} in\n${text}`);
  return Number(line.slice(line.lastIndexOf(' ') + 1));
}

afterEach(async () => {
  for (const f of started.splice(0)) {
    if (f.child.exitCode === null && f.child.signalCode === null) {
      f.child.kill('SIGKILL');
      await f.exited;
    }
  }
});

describe('runWorkers with two workers', () => {
  it('spreads connections, answers metrics and readiness for the whole proxy, replaces a dead worker, stops on SIGTERM', async () => {
    const f = await startFixture(2);
    await serving(f);
    // Workers accept from the one shared socket: with connections in flight together, both take
    // some (which one takes a given connection is the kernel's choice).
    const answers = [];
    for (let batch = 0; batch < 10 && new Set(answers.map((a) => a.worker)).size < 2; batch++) {
      answers.push(...(await Promise.all(Array.from({ length: 20 }, () => askData(f.dataPort)))));
    }
    const workers = new Set(answers.map((a) => a.worker));
    expect(workers).toEqual(new Set(['1', '2']));
    const pids = new Map(answers.map((a) => [a.worker, a.pid]));

    // Whichever worker takes a scrape, it counts both workers' answers.
    for (let i = 0; i < 4; i++) {
      const m = await get(f.httpPort, '/metrics');
      expect(m.status).toBe(200);
      expect(sample(m.body, 'fixture_answers_total')).toBe(answers.length);
      expect(sample(m.body, 'fixture_started_seconds')).toBe(1002); // a point in time: the larger
    }
    const ready = await get(f.httpPort, '/healthz/ready');
    expect(ready).toEqual({ status: 200, body: 'ready\nworker 1: ready\nworker 2: ready\n' });
    const who = await get(f.httpPort, '/whoami');
    expect(who.body).toMatch(/^[12] \d+\n$/);

    // A worker killed is replaced; the proxy keeps serving meanwhile.
    process.kill(pids.get('2') as number, 'SIGKILL');
    await until('worker 2 replaced', async () => {
      const seen = new Set<number>();
      for (let i = 0; i < 10; i++) {
        const a = await askData(f.dataPort).catch(() => undefined);
        if (a?.worker === '2') seen.add(a.pid);
      }
      return [...seen].some((p) => p !== pids.get('2')) ? true : undefined;
    });
    expect(f.stderr).toMatch(/worker exited; restarting/);
    const after = await until('ready again', async () => {
      const r = await get(f.httpPort, '/healthz/ready');
      return r.status === 200 ? r : undefined;
    });
    expect(after.body).toContain('worker 2: ready');

    f.child.kill('SIGTERM');
    expect(await f.exited).toBe(0);
    for (const pid of pids.values()) {
      expect(() => process.kill(pid, 0)).toThrow();
    }
  }, 40_000);

  it('is not ready while one worker is not, and says which', async () => {
    const f = await startFixture(2, { notReady: '2' });
    await serving(f);
    const r = await get(f.httpPort, '/healthz/ready');
    expect(r).toEqual({ status: 503, body: 'not ready\nworker 1: ready\nworker 2: HTTP 503\n' });
  }, 30_000);

  it('stops with a non-zero exit when a worker cannot start (its port is taken)', async () => {
    const holder = createServer();
    const port = await new Promise<number>((resolve) =>
      holder.listen(0, '127.0.0.1', () => resolve((holder.address() as { port: number }).port)),
    );
    try {
      const f = await startFixture(2, { dataPort: port });
      const code = await f.exited;
      expect(code).not.toBe(0);
      expect(f.stderr).toMatch(/worker failed to start; stopping/);
    } finally {
      holder.close();
    }
  }, 30_000);

  it('starts Node workers with a small young generation, Bun workers with the supervisor flags', async () => {
    const f = await startFixture(2);
    await serving(f);
    const r = await get(f.httpPort, '/execargv');
    if (isBun) expect(r.body).not.toMatch(/max-semi-space-size/);
    else expect(r.body).toContain(`--max-semi-space-size=${WORKER_SEMI_SPACE_MIB}`);
  }, 30_000);

  it('runs in-process with one worker', async () => {
    const f = await startFixture(1);
    const a = await until('serving', () => askData(f.dataPort));
    expect(a).toEqual({ worker: '0', pid: f.child.pid });
    expect((await get(f.httpPort, '/healthz/ready')).body).toBe('ready\n');
  }, 30_000);
});

describe('workerExecArgv', () => {
  it('adds the young-generation cap on Node after the supervisor flags', () => {
    expect(workerExecArgv(['--enable-source-maps'], undefined, false)).toEqual([
      '--enable-source-maps',
      `--max-semi-space-size=${WORKER_SEMI_SPACE_MIB}`,
    ]);
  });
  it("keeps the operator's own choice, in the flags or in NODE_OPTIONS, in either spelling", () => {
    expect(workerExecArgv(['--max-semi-space-size=8'], undefined, false)).toEqual([
      '--max-semi-space-size=8',
    ]);
    expect(workerExecArgv(['--max_semi_space_size=8'], '', false)).toEqual(['--max_semi_space_size=8']);
    expect(workerExecArgv([], '--inspect  --max-semi-space-size=16', false)).toEqual([]);
  });
  it('adds nothing on Bun', () => {
    expect(workerExecArgv(['--smol'], undefined, true)).toEqual(['--smol']);
  });
});

describe('combineAnswers', () => {
  it('a worker that did not answer makes the proxy not ready, and leaves a note in metrics', () => {
    const ans = [{ worker: 1, status: 200, body: 'a_total 1\n' }];
    expect(combineAnswers('ready', ans, 2)).toMatchObject({ status: 503 });
    expect(combineAnswers('prometheus', ans, 2).body).toBe(
      'a_total 1\n# 1 of 2 workers did not answer this scrape\n',
    );
  });
});
