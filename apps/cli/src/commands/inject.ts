// weft inject -f file: the sidecar injection weftd's webhook does, offline (weftd's own inject()).
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { parseAllDocuments, stringify } from 'yaml';
import type { CommandContext } from '../context.ts';
import { CliError, EXIT, oneLine, usageError } from '../errors.ts';

export function registerInject(program: Command, ctx: CommandContext): void {
  program
    .command('inject')
    .requiredOption('-f, --file <file>', 'manifest with Pods, Deployments, … ("-" for stdin)')
    .option('--image <image>', 'sidecar image')
    .option('--xds-address <addr>', "where the sidecar finds weftd's xDS")
    .description('add the sidecar to the workloads of a manifest, as the injection webhook would')
    .addHelpText(
      'after',
      '\nExit: 0 written to stdout, 1 an object could not be injected, 2 unreadable file.\nExample: weft inject -f deploy.yaml > deploy-injected.yaml',
    )
    .action(async (o: { file: string; image?: string; xdsAddress?: string }) => {
      let text: string;
      try {
        text = o.file === '-' ? readFileSync(0, 'utf8') : readFileSync(resolve(ctx.io.cwd, o.file), 'utf8');
      } catch (err) {
        throw usageError(`${o.file}: ${oneLine(err)}`);
      }
      const docs = parseAllDocuments(text);
      if (!Array.isArray(docs)) return;
      const bad = docs.find((d) => d.errors.length > 0);
      if (bad !== undefined) throw usageError(`${o.file}: ${oneLine(bad.errors[0]?.message)}`);
      const { inject } = await import('weftd');
      const out: unknown[] = [];
      docs.forEach((doc, i) => {
        const obj = doc.toJSON() as unknown;
        if (obj === null || obj === undefined) return;
        const r = inject(obj, {
          ...(o.image !== undefined ? { image: o.image } : {}),
          ...(o.xdsAddress !== undefined ? { xdsAddress: o.xdsAddress } : {}),
        });
        if (!r.ok) throw new CliError(EXIT.failed, `${o.file}: document ${i}: ${r.error}`);
        if (!r.injected) ctx.io.err(`${o.file}: document ${i}: not injected: ${r.reason}\n`);
        out.push(r.object);
      });
      ctx.io.out(
        ctx.globals().output === 'json'
          ? `${JSON.stringify(out.length === 1 ? out[0] : out, null, 2)}\n`
          : out.map((x) => stringify(x)).join('---\n'),
      );
    });
}
