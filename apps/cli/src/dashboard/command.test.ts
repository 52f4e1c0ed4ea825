import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { EXIT } from '../errors.ts';
import type { Io } from '../io.ts';
import { run } from '../program.ts';
import { dashboardCommand, registerDashboard } from './command.ts';

function fakeIo(): Io & { stdout: string; stderr: string } {
  const io = {
    stdout: '',
    stderr: '',
    out(t: string) {
      io.stdout += t;
    },
    err(t: string) {
      io.stderr += t;
    },
    isTTY: false,
    env: {},
    cwd: '/nonexistent-weft-cwd',
  };
  return io;
}

describe('weft dashboard: bad input is one line and an exit code', () => {
  it.each([
    [
      ['dashboard', '--open-browser', 'maybe'],
      EXIT.usage,
      'error: --open-browser maybe: expected yes or no\n',
    ],
    [['dashboard', '--listen', 'nowhere'], EXIT.usage, 'error: --listen nowhere: expected host:port\n'],
    [
      ['dashboard', '--poll-ms', '5'],
      EXIT.usage,
      'error: --poll-ms 5: expected a whole number of milliseconds, at least 100\n',
    ],
    [
      ['dashboard'],
      EXIT.unreachable,
      'error: no endpoints file at /nonexistent-weft-cwd/.weft/local/endpoints.json; is the mesh running? (pnpm demo)\n',
    ],
  ])('%j', async (args, code, stderr) => {
    const io = fakeIo();
    expect(await run(args, io, [registerDashboard])).toBe(code);
    expect(io.stderr).toBe(stderr);
    expect(io.stdout).toBe('');
  });
});

describe('dashboardCommand', () => {
  it('serves the page until stopped, prints its address, opens a browser only when asked', async () => {
    const lines: string[] = [];
    const opened: string[] = [];
    let stop = (): void => {};
    let served: Promise<string> | undefined;
    const program = new Command('weft').addCommand(
      dashboardCommand(Command, {
        inputs: async () => ({ weftdAdmin: 'http://127.0.0.1:1', token: 't', endpoints: {} }),
        out: (line) => {
          lines.push(line);
          const url = /(http:\S+)/.exec(line)?.[1] ?? '';
          served = fetch(url).then((r) => r.text());
        },
        openBrowser: (url) => opened.push(url),
        stopped: () =>
          new Promise<void>((resolve) => {
            stop = resolve;
            setTimeout(() => stop(), 300);
          }),
      }),
    );
    await program.parseAsync(['dashboard', '--listen', '127.0.0.1:0', '--open-browser', 'no'], {
      from: 'user',
    });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^weft dashboard: http:\/\/127\.0\.0\.1:\d+\/ \(Ctrl-C to stop\)$/);
    expect(await served).toContain('<title>Weft mesh</title>');
    expect(opened).toEqual([]);
  });
});
