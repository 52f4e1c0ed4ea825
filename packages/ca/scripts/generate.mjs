// Generates src/gen from proto/ with buf + ts-proto, then marks the output `// @ts-nocheck`
// so the repository's strict compiler options do not apply to generated code.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'src', 'gen');
rmSync(out, { recursive: true, force: true });
execFileSync(join(root, 'node_modules', '.bin', 'buf'), ['generate'], { cwd: root, stdio: 'inherit' });

function walk(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (name.endsWith('.ts')) {
      const text = readFileSync(path, 'utf8');
      if (!text.startsWith('// @ts-nocheck')) writeFileSync(path, `// @ts-nocheck\n${text}`);
    }
  }
}
walk(out);
