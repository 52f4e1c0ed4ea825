// What a command reads and writes besides the mesh: output streams, environment, colour.
import pc from 'picocolors';

export interface Io {
  out(text: string): void;
  err(text: string): void;
  readonly isTTY: boolean;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
}

export function processIo(): Io {
  return {
    out: (t) => process.stdout.write(t),
    err: (t) => process.stderr.write(t),
    isTTY: process.stdout.isTTY === true,
    env: process.env,
    cwd: process.cwd(),
  };
}

export interface Colors {
  green(s: string): string;
  red(s: string): string;
  yellow(s: string): string;
  bold(s: string): string;
  dim(s: string): string;
}

const plain = (s: string): string => s;
const PLAIN: Colors = { green: plain, red: plain, yellow: plain, bold: plain, dim: plain };

/** Colour only on a terminal, and never with NO_COLOR set (https://no-color.org). */
export function colorsFor(io: Io): Colors {
  const on = io.isTTY && (io.env.NO_COLOR === undefined || io.env.NO_COLOR === '') && io.env.TERM !== 'dumb';
  if (!on) return PLAIN;
  const c = pc.createColors(true);
  return { green: c.green, red: c.red, yellow: c.yellow, bold: c.bold, dim: c.dim };
}
