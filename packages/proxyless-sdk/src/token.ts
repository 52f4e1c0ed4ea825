// The pod's service-account token: a fixed string, or a file re-read on every use (Kubernetes
// rotates projected tokens in place).
import { readFile } from 'node:fs/promises';

export type TokenProvider = () => Promise<string>;

export function tokenProvider(opts: { token?: string; tokenFile?: string }): TokenProvider {
  if (opts.token !== undefined) {
    const token = opts.token.trim();
    return () => Promise.resolve(token);
  }
  const file = opts.tokenFile;
  if (file === undefined) throw new Error('proxyless: one of token or tokenFile is required');
  return async () => {
    const text = (await readFile(file, 'utf8')).trim();
    if (text === '') throw new Error(`token file ${file} is empty`);
    return text;
  };
}
