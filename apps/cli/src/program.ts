// The `weft` program: global flags, the commands, and one exit code per run.
import { Command, CommanderError, Option } from 'commander';
import { COMMANDS, type RegisterCommand } from './commands.ts';
import { type CommandContext, createContext } from './context.ts';
import { CliError, EXIT, type ExitCode, oneLine } from './errors.ts';
import { OUTPUT_FORMATS } from './format.ts';
import type { Io } from './io.ts';
import { DEFAULT_ENDPOINTS, DEFAULT_WEFTD } from './mesh.ts';

export const VERSION = '0.1.0';

export function buildProgram(
  io: Io,
  commands: readonly RegisterCommand[] = COMMANDS,
): { program: Command; ctx: CommandContext } {
  const program = new Command('weft');
  const ctx = createContext(program, io);
  program
    .description('The command line of a Weft mesh.')
    .version(VERSION)
    .option('--weftd <url>', `weftd admin address (env WEFT_ADMIN; default ${DEFAULT_WEFTD})`)
    .option('--token <token>', 'bearer token of a weft-system service account for /debug/* (env WEFT_TOKEN)')
    .option(
      '--token-file <file>',
      'read the token from a file (default: the first weft-system token of .weft/local/tokens.txt)',
    )
    .option(
      '--endpoints <file>',
      `the demo's endpoints file (env WEFT_ENDPOINTS; default ${DEFAULT_ENDPOINTS})`,
    )
    .addOption(new Option('-o, --output <format>', 'output format').choices(OUTPUT_FORMATS).default('table'))
    .exitOverride()
    .showSuggestionAfterError(false)
    .configureOutput({
      writeOut: (s) => io.out(s),
      writeErr: (s) => io.err(s),
      outputError: (s) => io.err(s),
    })
    .addHelpText(
      'after',
      '\nExit codes: 0 ok, 1 a check failed / denied / analysis errors, 2 usage or input error, 3 mesh unreachable.\nTopics: weft help modes | policies | troubleshooting',
    );
  for (const register of commands) register(program, ctx);
  // Subcommands inherit the error handling and output of the program.
  for (const cmd of program.commands) inheritSettings(cmd, io);
  return { program, ctx };
}

function inheritSettings(cmd: Command, io: Io): void {
  cmd
    .exitOverride()
    .showSuggestionAfterError(false)
    .configureOutput({
      writeOut: (s) => io.out(s),
      writeErr: (s) => io.err(s),
      outputError: (s) => io.err(s),
    });
  for (const sub of cmd.commands) inheritSettings(sub, io);
}

/** Runs `weft <args>`; resolves to the exit code. Never throws. */
export async function run(
  args: readonly string[],
  io: Io,
  commands?: readonly RegisterCommand[],
): Promise<ExitCode> {
  let ctx: CommandContext | undefined;
  try {
    const built = buildProgram(io, commands);
    ctx = built.ctx;
    await built.program.parseAsync([...args], { from: 'user' });
    return ctx.exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.exitCode === 0)
        return EXIT.ok;
      return EXIT.usage; // commander already printed its one-line error
    }
    if (err instanceof CliError) {
      io.err(`error: ${err.message}\n`);
      return err.exitCode;
    }
    io.err(`error: ${oneLine(err)}\n`);
    return EXIT.usage;
  }
}
