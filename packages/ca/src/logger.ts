/** The logging capability components receive; the default discards. */
export interface Logger {
  info(message: string, fields?: Readonly<Record<string, unknown>>): void;
  warn(message: string, fields?: Readonly<Record<string, unknown>>): void;
}

export const silentLogger: Logger = { info: () => {}, warn: () => {} };
