import { describe, expect, it } from 'vitest';
import { typeState } from './commands/proxy-status.ts';
import { EXIT } from './errors.ts';
import { render, table } from './format.ts';
import type { Io } from './io.ts';
import { colorsFor } from './io.ts';
import { firstSystemToken } from './mesh.ts';
import { run } from './program.ts';

function fakeIo(env: Record<string, string> = {}, isTTY = false): Io & { stdout: string; stderr: string } {
  const io = {
    stdout: '',
    stderr: '',
    out(t: string) {
      io.stdout += t;
    },
    err(t: string) {
      io.stderr += t;
    },
    isTTY,
    env,
    cwd: '/nonexistent-weft-cwd',
  };
  return io;
}

describe('exit codes', () => {
  it('--help and --version exit 0', async () => {
    expect(await run(['--help'], fakeIo())).toBe(EXIT.ok);
    expect(await run(['--version'], fakeIo())).toBe(EXIT.ok);
  });
  it('an unknown command is a usage error, with one line on stderr', async () => {
    const io = fakeIo();
    expect(await run(['nope'], io)).toBe(EXIT.usage);
    expect(io.stderr.split('\n')[0]).toBe("error: unknown command 'nope'");
  });
  it('a bad -o is a usage error', async () => {
    expect(await run(['-o', 'xml', 'check'], fakeIo())).toBe(EXIT.usage);
  });
  it('weftd down exits 3 and says so', async () => {
    const io = fakeIo();
    expect(await run(['--weftd', 'http://127.0.0.1:1', 'proxy-status'], io)).toBe(EXIT.unreachable);
    expect(io.stderr).toMatch(/^error: cannot reach weftd at http:\/\/127\.0\.0\.1:1\/debug\/syncz \(/);
    expect(io.stderr).not.toMatch(/\n\s+at /);
  });
  it('a missing manifest path exits 2', async () => {
    const io = fakeIo();
    expect(await run(['analyze', '-f', 'missing.yaml'], io)).toBe(EXIT.usage);
    expect(io.stderr).toBe('error: missing.yaml: no such file or folder\n');
  });
});

describe('formatting', () => {
  it('pads table columns', () => {
    expect(table(['A', 'BB'], [['xxx', 'y']])).toBe('A    BB\nxxx  y\n');
  });
  it('renders json and yaml', () => {
    expect(render('json', { a: 1 }, () => '')).toBe('{\n  "a": 1\n}\n');
    expect(render('yaml', { a: 1 }, () => '')).toBe('a: 1\n');
    expect(render('table', { a: 1 }, () => 'T\n')).toBe('T\n');
  });
  it('colours only on a TTY without NO_COLOR', () => {
    expect(colorsFor(fakeIo({}, false)).red('x')).toBe('x');
    expect(colorsFor(fakeIo({ NO_COLOR: '1' }, true)).red('x')).toBe('x');
    expect(colorsFor(fakeIo({}, true)).red('x')).not.toBe('x');
  });
  it('names sync states like istioctl', () => {
    expect(typeState({ type: 't', versionSent: '2', versionAcked: '2' })).toBe('SYNCED');
    expect(typeState({ type: 't' })).toBe('NOT SENT');
    expect(typeState({ type: 't', versionSent: '3', versionAcked: '2' })).toBe('STALE');
    expect(
      typeState({
        type: 't',
        versionSent: '3',
        versionAcked: '2',
        lastNack: { message: 'bad', version: '3' },
      }),
    ).toBe('NACKED');
  });
  it('reads the first weft-system token', () => {
    expect(firstSystemToken('# token ns sa\nabc demo x\ndef weft-system ztunnel node-a\n')).toBe('def');
  });
});

describe('help and completion', () => {
  it('prints a man-style topic', async () => {
    const io = fakeIo();
    expect(await run(['help', 'troubleshooting'], io)).toBe(EXIT.ok);
    expect(io.stdout.split('\n')[0]).toBe('WEFT-TROUBLESHOOTING(7)');
  });
  it('an unknown topic is a usage error', async () => {
    const io = fakeIo();
    expect(await run(['help', 'nope'], io)).toBe(EXIT.usage);
    expect(io.stderr).toBe(
      'error: no help topic or command nope; topics: modes, policies, troubleshooting\n',
    );
  });
  it('completes every command', async () => {
    const io = fakeIo();
    expect(await run(['completion', 'bash'], io)).toBe(EXIT.ok);
    for (const c of ['check', 'proxy-status', 'analyze', 'authz', 'waypoint apply', 'top', 'logs'])
      expect(io.stdout).toContain(`"${c}")`);
  });
});
