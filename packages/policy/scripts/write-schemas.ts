// Writes the JSON Schemas of every kind Weft reads to packages/policy/schemas/, one file per
// kind, for CRD manifests and editors. Run with `pnpm --filter @weft/policy schemas`.
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { jsonSchemas } from '../src/index.ts';

const outDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'schemas');
mkdirSync(outDir, { recursive: true });
for (const file of readdirSync(outDir)) {
  if (file.endsWith('.json')) rmSync(join(outDir, file));
}
const targets = [
  ['draft-2020-12', ''],
  ['openapi-3.0', '.openapi'],
] as const;
let count = 0;
for (const [target, suffix] of targets) {
  for (const [kind, schema] of Object.entries(jsonSchemas({ target }))) {
    writeFileSync(join(outDir, `${kind}${suffix}.json`), `${JSON.stringify(schema, null, 2)}\n`);
    count++;
  }
}
process.stdout.write(`wrote ${count} schemas to ${outDir}\n`);
