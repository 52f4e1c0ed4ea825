// The workload certificate as the files grpc-js's `file_watcher` certificate provider polls.
// Each generation is written into its own directory, never modified afterwards, and
// `<dir>/current` (a symlink) is swapped to it with one rename: a file is never seen half
// written, and the three files change together. The provider opens the three paths
// independently (in the same tick), so a swap landing between those opens can still pair an old
// certificate with a new key: grpc-js then logs the mismatch and new handshakes fail until its
// next read (`refresh_interval`, 1 s; rotation happens twice a day, the window is microseconds). The previous generation is kept so that such a
// reader never finds a file missing.
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface CertMaterial {
  /** Leaf first. */
  readonly certChainPem: readonly string[];
  /** PKCS#8 PEM. */
  readonly keyPem: string;
  /** The roots peers are verified against. */
  readonly rootCertPem: string;
}

export interface CertFilePaths {
  readonly certificateFile: string;
  readonly privateKeyFile: string;
  readonly caCertificateFile: string;
}

export const CURRENT_LINK = 'current';
const GENERATION_PREFIX = 'certs-';

/** Where the provider reads: `<dir>/current/{cert-chain,key,root-cert}.pem`. */
export function certFilePaths(dir: string): CertFilePaths {
  return {
    certificateFile: join(dir, CURRENT_LINK, 'cert-chain.pem'),
    privateKeyFile: join(dir, CURRENT_LINK, 'key.pem'),
    caCertificateFile: join(dir, CURRENT_LINK, 'root-cert.pem'),
  };
}

const pemText = (pems: readonly string[]): string =>
  pems.map((p) => (p.endsWith('\n') ? p : `${p}\n`)).join('');

/** Writes one generation and makes it current atomically; removes generations older than the previous one. */
export async function writeCertFiles(dir: string, material: CertMaterial): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const generation = `${GENERATION_PREFIX}${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
  const genDir = join(dir, generation);
  await mkdir(genDir, { mode: 0o700 });
  await writeFile(join(genDir, 'cert-chain.pem'), pemText(material.certChainPem), { mode: 0o644 });
  await writeFile(join(genDir, 'key.pem'), material.keyPem, { mode: 0o600 });
  await writeFile(join(genDir, 'root-cert.pem'), pemText([material.rootCertPem]), { mode: 0o644 });

  const link = join(dir, CURRENT_LINK);
  const previous = await readlink(link).catch(() => undefined);
  const tmpLink = join(dir, `.${CURRENT_LINK}.${randomBytes(4).toString('hex')}`);
  await symlink(generation, tmpLink);
  await rename(tmpLink, link);

  // The previous generation stays: a reader may be between its three reads of it.
  const keep = new Set([generation, previous]);
  for (const name of await readdir(dir)) {
    if (name.startsWith(GENERATION_PREFIX) && !keep.has(name)) {
      await rm(join(dir, name), { recursive: true, force: true });
    }
  }
}
