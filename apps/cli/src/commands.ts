// The command list. A command is a function that adds itself to the program; `weft dashboard`
// (src/dashboard/) registers by adding its `register` function to COMMANDS.
import type { Command } from 'commander';
import { registerAnalyze } from './commands/analyze.ts';
import { registerAuthz } from './commands/authz.ts';
import { registerCheck } from './commands/check.ts';
import { registerConfig } from './commands/config.ts';
import { registerDataplaneMode } from './commands/dataplane-mode.ts';
import { registerHelp } from './commands/help.ts';
import { registerInject } from './commands/inject.ts';
import { registerLogs } from './commands/logs.ts';
import { registerProxyStatus } from './commands/proxy-status.ts';
import { registerTop } from './commands/top.ts';
import { registerWaypoint } from './commands/waypoint.ts';
import type { CommandContext } from './context.ts';
import { registerDashboard } from './dashboard/index.ts';

export type RegisterCommand = (program: Command, ctx: CommandContext) => void;

export const COMMANDS: readonly RegisterCommand[] = [
  registerCheck,
  registerProxyStatus,
  registerConfig,
  registerAnalyze,
  registerAuthz,
  registerWaypoint,
  registerInject,
  registerDataplaneMode,
  registerTop,
  registerLogs,
  registerDashboard,
  // help and completion come last: completion lists every command registered before it.
  registerHelp,
];
