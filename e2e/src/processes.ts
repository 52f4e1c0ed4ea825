// Child processes of a local mesh: started with execa, output kept in a log file and in memory
// (the last lines), stopped with SIGTERM then SIGKILL, or killed outright with SIGKILL.
import { createWriteStream, type WriteStream } from 'node:fs';
import { execa } from 'execa';

export interface ManagedProcess {
  readonly name: string;
  /** The OS process id (undefined if the spawn failed). */
  readonly pid: number | undefined;
  /** Output lines so far (stdout and stderr), the last 5,000. */
  lines(): readonly string[];
  readonly exited: Promise<number | undefined>;
  stop(): Promise<void>;
  /** SIGKILL, as `kill -9`: no shutdown handler runs; resolves once the process is gone. */
  kill(): Promise<void>;
}

export function startProcess(
  name: string,
  command: string,
  args: readonly string[],
  logPath: string,
): ManagedProcess {
  const log: WriteStream = createWriteStream(logPath, { flags: 'a' });
  const kept: string[] = [];
  const child = execa(command, args, {
    reject: false,
    stdin: 'ignore',
    buffer: false,
    forceKillAfterDelay: 3000,
    env: { FORCE_COLOR: '0' },
  });
  const onData = (chunk: Buffer): void => {
    log.write(chunk);
    for (const line of chunk.toString().split('\n')) {
      if (line.length === 0) continue;
      kept.push(line);
      if (kept.length > 5000) kept.splice(0, kept.length - 5000);
    }
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exited = child.then(
    (r) => r.exitCode,
    () => undefined,
  );
  return {
    name,
    pid: child.pid,
    lines: () => kept,
    exited,
    async stop() {
      if (child.exitCode === null && !child.killed) child.kill('SIGTERM');
      await exited;
      await new Promise<void>((r) => log.end(r));
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
      await new Promise<void>((r) => log.end(r));
    },
  };
}

/** Resolves once `url` answers 200, or rejects naming the process when it exits or time runs out. */
export async function waitReady(
  proc: ManagedProcess,
  url: string,
  timeoutMs = 30_000,
  intervalMs = 100,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void proc.exited.then(() => {
    exited = true;
  });
  let last = '';
  while (Date.now() < deadline) {
    if (exited)
      throw new Error(`${proc.name} exited before it was ready:\n${proc.lines().slice(-20).join('\n')}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (res.status === 200) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(
    `${proc.name} not ready at ${url} after ${timeoutMs} ms (${last}):\n${proc.lines().slice(-20).join('\n')}`,
  );
}

/** Resolves once the process printed a line containing `needle`; rejects if it exits first. */
export async function waitForLine(proc: ManagedProcess, needle: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void proc.exited.then(() => {
    exited = true;
  });
  while (Date.now() < deadline) {
    if (proc.lines().some((l) => l.includes(needle))) return;
    if (exited)
      throw new Error(
        `${proc.name} exited before printing "${needle}":\n${proc.lines().slice(-15).join('\n')}`,
      );
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(
    `${proc.name} did not print "${needle}" within ${timeoutMs} ms:\n${proc.lines().slice(-15).join('\n')}`,
  );
}

/** The tally a proxyless gRPC client prints as its last JSON line. */
export interface GrpcClientTally {
  readonly calls: number;
  readonly ok: number;
  readonly served: Record<string, number>;
  readonly errors: Record<string, number>;
  readonly lastError?: string;
}

/** Runs the example gRPC client to completion and returns its tally (exit 1 = some calls failed). */
export async function runGrpcClient(command: string, args: readonly string[]): Promise<GrpcClientTally> {
  const r = await execa(command, args, { reject: false, timeout: 60_000, env: { FORCE_COLOR: '0' } });
  const last = String(r.stdout).trim().split('\n').at(-1) ?? '';
  try {
    return JSON.parse(last) as GrpcClientTally;
  } catch {
    throw new Error(
      `grpc client exited ${r.exitCode} without a tally: ${String(r.stderr || r.stdout).slice(-600)}`,
    );
  }
}
