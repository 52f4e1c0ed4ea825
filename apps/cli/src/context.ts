// What every command gets: the output streams, the global flags and a lazily built mesh client.
import type { Command } from 'commander';
import { EXIT, type ExitCode } from './errors.ts';
import { type OutputFormat, parseOutputFormat, render } from './format.ts';
import { type Colors, colorsFor, type Io } from './io.ts';
import { createMesh, type GlobalOptions, type Mesh } from './mesh.ts';

export interface CommandContext {
  readonly io: Io;
  readonly colors: Colors;
  /** The global flags (--weftd, --token, --token-file, --endpoints, -o), parsed. */
  globals(): GlobalOptions;
  /** The mesh named by the global flags. */
  mesh(): Mesh;
  /** Prints `value` in the -o format; `asTable` is the human form. */
  print(value: unknown, asTable: () => string): void;
  /** The exit code the process ends with (the worst one set). */
  exitCode: ExitCode;
  fail(code: ExitCode): void;
}

export function createContext(program: Command, io: Io): CommandContext {
  let mesh: Mesh | undefined;
  const globals = (): GlobalOptions => {
    const o = program.opts<{
      weftd?: string;
      token?: string;
      tokenFile?: string;
      endpoints?: string;
      output?: string;
    }>();
    const output: OutputFormat = parseOutputFormat(o.output ?? 'table');
    return {
      output,
      ...(o.weftd !== undefined ? { weftd: o.weftd } : {}),
      ...(o.token !== undefined ? { token: o.token } : {}),
      ...(o.tokenFile !== undefined ? { tokenFile: o.tokenFile } : {}),
      ...(o.endpoints !== undefined ? { endpoints: o.endpoints } : {}),
    };
  };
  const ctx: CommandContext = {
    io,
    colors: colorsFor(io),
    globals,
    mesh() {
      mesh ??= createMesh(globals(), io);
      return mesh;
    },
    print(value, asTable) {
      io.out(render(globals().output, value, asTable));
    },
    exitCode: EXIT.ok,
    fail(code) {
      if (code > ctx.exitCode) ctx.exitCode = code;
    },
  };
  return ctx;
}
