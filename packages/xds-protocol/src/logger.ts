/** Where the package reports what it does not throw. The default drops everything. */
export interface Logger {
  warn(message: string, fields?: Record<string, unknown>): void;
  info?(message: string, fields?: Record<string, unknown>): void;
}

export const silentLogger: Logger = { warn() {} };
