// weft logs <proxy>: a proxy's log. The proxies have no log endpoint on their admin port, so this
// reads the files the local demo writes (.weft/local/logs/<process>.log) and says so.
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Command } from 'commander';
import type { CommandContext } from '../context.ts';
import { unreachable, usageError } from '../errors.ts';
import type { ProxyEndpoint } from '../mesh.ts';

/** The demo's log file of a proxy's process (see e2e/src/drivers/local.ts). */
export function logFileName(p: ProxyEndpoint): string {
  switch (p.kind) {
    case 'ztunnel':
      return `ztunnel-${p.name}.log`;
    case 'waypoint':
      return `${p.name}.log`;
    case 'sidecar':
      return `${p.name}-proxy.log`;
    default: {
      const never: never = p.kind;
      return never;
    }
  }
}

const isAccess = (line: string): boolean => line.startsWith('kind=') || line.includes('"kind":');

export function registerLogs(program: Command, ctx: CommandContext): void {
  program
    .command('logs')
    .argument('<proxy>', 'node-a, waypoint-0, sidecar-echo, …; or weftd')
    .option('--tail <n>', 'lines from the end', '20')
    .option('-f, --follow', 'keep printing new lines')
    .option('--access', 'access-log lines only')
    .description(
      "a proxy's log (access log and events) from the demo's log files; the proxies have no log endpoint",
    )
    .addHelpText(
      'after',
      '\nExit: 0, 2 unknown proxy, 3 no log file (the mesh is not the local demo).\nExample: weft logs waypoint-0 --access --tail 5',
    )
    .action(async (name: string, o: { tail: string; follow?: boolean; access?: boolean }) => {
      const n = Number(o.tail);
      if (!Number.isInteger(n) || n < 0) throw usageError(`--tail ${o.tail}: not a count`);
      const mesh = ctx.mesh();
      const dir = mesh.endpoints()?.logsDir ?? join(dirname(mesh.endpointsPath), 'logs');
      const file = join(dir, name === 'weftd' ? 'weftd.log' : logFileName(mesh.proxy(name)));
      if (!existsSync(file))
        throw unreachable(`no log file ${file}: logs are read from the local demo's files`);
      ctx.io.err(`${ctx.colors.dim(`(from ${file}: the proxies have no log endpoint)`)}\n`);
      const keep = (l: string): boolean => l !== '' && (o.access !== true || isAccess(l));
      const lines = readFileSync(file, 'utf8').split('\n').filter(keep);
      const shown = n === 0 ? [] : lines.slice(-n);
      ctx.print({ file, lines: shown }, () => shown.map((l) => `${l}\n`).join(''));
      if (o.follow !== true) return;
      let offset = statSync(file).size;
      let partial = '';
      for (;;) {
        await new Promise((r) => setTimeout(r, 500));
        const size = statSync(file).size;
        if (size < offset) offset = 0; // the file was recreated
        if (size === offset) continue;
        const buf = Buffer.alloc(size - offset);
        const fd = openSync(file, 'r');
        readSync(fd, buf, 0, buf.length, offset);
        closeSync(fd);
        offset = size;
        const text = partial + buf.toString('utf8');
        const parts = text.split('\n');
        partial = parts.pop() ?? '';
        for (const l of parts.filter(keep)) ctx.io.out(`${l}\n`);
      }
    });
}
