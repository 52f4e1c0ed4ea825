// @weft/cli: the `weft` program, for tests and for commands added from other folders.
export { COMMANDS, type RegisterCommand } from './commands.ts';
export type { CommandContext } from './context.ts';
export { CliError, EXIT, type ExitCode } from './errors.ts';
export { type OutputFormat, render, table } from './format.ts';
export type { Io } from './io.ts';
export type { Mesh, ProxyEndpoint } from './mesh.ts';
export { buildProgram, run } from './program.ts';
