// weft dataplane-mode <ns|ns/pod> <mode>: sets weft.dev/dataplane-mode in the file source.
import { DATAPLANE_MODES, type DataplaneMode, LABEL_DATAPLANE_MODE } from '@weft/policy';
import type { Command } from 'commander';
import type { CommandContext } from '../context.ts';
import { usageError } from '../errors.ts';
import { configDir, setLabel } from '../file-source.ts';

export function registerDataplaneMode(program: Command, ctx: CommandContext): void {
  program
    .command('dataplane-mode')
    .argument('<target>', 'a namespace, or ns/pod for one pod')
    .argument('<mode>', DATAPLANE_MODES.join('|'))
    .requiredOption('--config-dir <dir>', 'the folder weftd reads manifests from (its file source)')
    .description(`set the ${LABEL_DATAPLANE_MODE} label of a namespace or pod in the file source`)
    .addHelpText(
      'after',
      '\nExit: 0 written, 2 unknown mode, namespace or pod.\nExample: weft dataplane-mode demo sidecar --config-dir .weft/local/config',
    )
    .action((target: string, mode: string, o: { configDir: string }) => {
      if (!(DATAPLANE_MODES as readonly string[]).includes(mode))
        throw usageError(`unknown mode ${mode}; one of ${DATAPLANE_MODES.join(', ')}`);
      const dir = configDir(o.configDir, ctx.io.cwd);
      const [ns, pod] = target.split('/', 2) as [string, string | undefined];
      const ref =
        pod !== undefined ? { kind: 'Pod', namespace: ns, name: pod } : { kind: 'Namespace', name: ns };
      const file = setLabel(dir, ref, LABEL_DATAPLANE_MODE, mode as DataplaneMode);
      ctx.print(
        { target, mode, file },
        () => `${ref.kind} ${target}: ${LABEL_DATAPLANE_MODE}=${mode} (${file})\n`,
      );
    });
}
