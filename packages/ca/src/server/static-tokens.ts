// Local-mode authentication: a file of tokens, one per line:
//
//   # token                 namespace   service-account  [node]
//   3f9a...c1               default     web
//   77d0...9e               weft-system ztunnel          node-1
//
// Blank lines and lines starting with # are ignored. Fields are separated by spaces or tabs.
import { createHash } from 'node:crypto';
import { type FSWatcher, watch as fsWatch } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { fail, ok, type Result } from '../errors.ts';
import { type CallerIdentity, isValidName } from '../identity.ts';
import { type Logger, silentLogger } from '../logger.ts';
import type { Authenticator } from './authenticator.ts';

export interface TokenFileError {
  readonly line: number;
  readonly message: string;
}

/** Parses the token file format; a bad line is an error naming its line number. */
export function parseTokenFile(text: string): Result<Map<string, CallerIdentity>, TokenFileError> {
  const tokens = new Map<string, CallerIdentity>();
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] ?? '').trim();
    if (line === '' || line.startsWith('#')) continue;
    const fields = line.split(/[ \t]+/);
    const [token, namespace, serviceAccount, node] = fields;
    const bad = (message: string) => ({ ok: false as const, error: { line: i + 1, message } });
    if (fields.length < 3 || fields.length > 4 || !token || !namespace || !serviceAccount) {
      return bad('expected "token namespace serviceAccount [node]"');
    }
    if (token.length < 16) return bad('token shorter than 16 characters');
    if (!isValidName(namespace)) return bad(`namespace "${namespace}" is not a valid name`);
    if (!isValidName(serviceAccount)) return bad(`service account "${serviceAccount}" is not a valid name`);
    if (node !== undefined && !isValidName(node)) return bad(`node "${node}" is not a valid name`);
    if (tokens.has(token)) return bad('duplicate token');
    tokens.set(
      token,
      node === undefined ? { namespace, serviceAccount } : { namespace, serviceAccount, node },
    );
  }
  return ok(tokens);
}

export interface StaticTokenAuthenticator extends Authenticator {
  /** Replaces the tokens; a bad file keeps the previous tokens and returns the error. */
  load(text: string): Result<number, TokenFileError>;
  /** Re-reads the file given at creation. */
  reload(): Promise<Result<number, TokenFileError>>;
  close(): void;
}

export interface StaticTokenOptions {
  /** Token file contents (tests, inline config). */
  readonly text?: string;
  /** Token file path; read at creation. */
  readonly path?: string;
  /** Reload `path` when it changes. Default true when `path` is given. */
  readonly watch?: boolean;
  readonly logger?: Logger;
}

function digest(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Creates the static-token authenticator; throws when the initial file is unreadable or bad. */
export async function createStaticTokenAuthenticator(
  opts: StaticTokenOptions,
): Promise<StaticTokenAuthenticator> {
  const logger = opts.logger ?? silentLogger;
  // Keyed by the token's SHA-256: lookup timing then tells nothing useful about a token.
  let byDigest = new Map<string, CallerIdentity>();
  let watcher: FSWatcher | undefined;

  function load(text: string): Result<number, TokenFileError> {
    const parsed = parseTokenFile(text);
    if (!parsed.ok) return parsed;
    const next = new Map<string, CallerIdentity>();
    for (const [token, identity] of parsed.value) next.set(digest(token), identity);
    byDigest = next;
    return ok(next.size);
  }

  async function reload(): Promise<Result<number, TokenFileError>> {
    if (!opts.path) return ok(byDigest.size);
    let text: string;
    try {
      text = await readFile(opts.path, 'utf8');
    } catch (err) {
      return {
        ok: false,
        error: { line: 0, message: `cannot read ${opts.path}: ${(err as Error).message}` },
      };
    }
    const r = load(text);
    if (r.ok) logger.info('token file loaded', { path: opts.path, tokens: r.value });
    else logger.warn('token file rejected, keeping previous tokens', { path: opts.path, ...r.error });
    return r;
  }

  const initial = opts.path ? await reload() : load(opts.text ?? '');
  if (!initial.ok) {
    throw new Error(
      `token file${opts.path ? ` ${opts.path}` : ''} line ${initial.error.line}: ${initial.error.message}`,
    );
  }
  if (opts.path && (opts.watch ?? true)) {
    try {
      // Watch the directory: editors and Kubernetes secret mounts replace the file (rename or
      // symlink swap), which a watch on the file itself stops seeing.
      const file = basename(opts.path);
      watcher = fsWatch(dirname(opts.path), { persistent: false }, (_event, name) => {
        if (name === null || name === file || name === '..data') void reload();
      });
      watcher.on('error', () => {});
    } catch {
      logger.warn('cannot watch token file', { path: opts.path });
    }
  }

  return {
    name: 'static-token',
    async authenticate(token) {
      const identity = byDigest.get(digest(token));
      if (!identity) return fail('unauthenticated', 'bad-token', 'token is not in the token file');
      return ok(identity);
    },
    load,
    reload,
    close() {
      watcher?.close();
    },
  };
}
