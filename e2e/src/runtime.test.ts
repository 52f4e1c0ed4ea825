import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { bunExecutable, parseRuntime, runtimeFromEnv } from './runtime.ts';

describe('component runtime', () => {
  it('reads node or bun, and names a wrong value instead of falling back to Node', () => {
    expect(parseRuntime(undefined, '--runtime')).toBe('node');
    expect(parseRuntime('bun', '--runtime')).toBe('bun');
    expect(() => parseRuntime('bnu', '--runtime')).toThrow('--runtime must be node or bun, not "bnu"');
    expect(runtimeFromEnv({ WEFT_RUNTIME: 'bun' })).toBe('bun');
    expect(runtimeFromEnv({ WEFT_E2E_RUNTIME: 'bun' })).toBe('bun');
    expect(runtimeFromEnv({})).toBe('node');
    expect(() => runtimeFromEnv({ WEFT_RUNTIME: 'deno' })).toThrow('WEFT_RUNTIME must be node or bun');
  });

  // The driver stops a component by signalling the process it spawned. If that process were a
  // wrapper script, Bun would never see the signal and would keep serving on its ports.
  it('Bun started from bunExecutable() is the process that receives SIGTERM', async () => {
    const program =
      "process.on('SIGTERM', () => { console.log('got SIGTERM'); process.exit(0); }); console.log('up'); setInterval(() => {}, 1000);";
    const child = spawn(bunExecutable(), ['-e', program], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    const exited = new Promise<void>((resolve) => child.stdout.on('close', () => resolve()));
    await new Promise<void>((resolve, reject) => {
      child.on('error', reject);
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('up')) resolve();
      });
    });
    child.kill('SIGTERM');
    // A Bun left behind by a wrapper would keep stdout open: bound the wait.
    let timer: NodeJS.Timeout | undefined;
    const gone = await Promise.race([
      exited.then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), 10_000);
      }),
    ]);
    clearTimeout(timer);
    expect(out).toContain('got SIGTERM');
    expect(gone).toBe(true);
  }, 20_000);
});
