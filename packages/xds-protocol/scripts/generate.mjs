// Generates src/gen/ from proto/weft/v1/*.proto and the Envoy v3 subset a proxyless gRPC client needs.
// The Envoy, xds, validate and googleapis .proto files are read from @grpc/grpc-js-xds's `deps/`
// folder where pnpm installed it; buf needs module roots inside one workspace directory, so this
// script builds a throwaway workspace of symlinks and points `buf generate` at it.
import { execFileSync } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkgDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(pkgDir, 'package.json'));
const xdsDeps = join(dirname(require.resolve('@grpc/grpc-js-xds/package.json')), 'deps');
const buf = join(dirname(require.resolve('@bufbuild/buf/package.json')), 'bin', 'buf');
const tsProto = join(dirname(require.resolve('ts-proto/package.json')), 'protoc-gen-ts_proto');

// Only these files (and what they import) are generated.
const envoyFiles = [
  'envoy/service/discovery/v3/ads.proto',
  'envoy/config/listener/v3/listener.proto',
  'envoy/config/route/v3/route.proto',
  'envoy/config/cluster/v3/cluster.proto',
  'envoy/config/endpoint/v3/endpoint.proto',
  'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
  'envoy/extensions/filters/http/router/v3/router.proto',
  'envoy/extensions/filters/http/fault/v3/fault.proto',
  'envoy/extensions/transport_sockets/tls/v3/tls.proto',
  'envoy/config/route/v3/route_components.proto',
];
const weftFiles = readdirSync(join(pkgDir, 'proto/weft/v1'))
  .filter((f) => f.endsWith('.proto'))
  .map((f) => `weft/v1/${f}`);

const tsProtoOptions = [
  'esModuleInterop=true',
  'importSuffix=.ts',
  'enumsAsLiterals=true',
  'unrecognizedEnum=false',
  'useOptionals=messages',
  'useDate=false',
  'forceLong=number',
  'outputServices=false',
  'outputJsonMethods=false',
  'useExactTypes=false',
  'exportCommonSymbols=false',
  'comments=true',
  'annotateFilesWithVersion=false',
];

const work = mkdtempSync(join(tmpdir(), 'weft-xds-gen-'));
try {
  const modules = {
    weft: join(pkgDir, 'proto'),
    'envoy-api': join(xdsDeps, 'envoy-api'),
    xds: join(xdsDeps, 'xds'),
    validate: join(xdsDeps, 'protoc-gen-validate'),
    googleapis: join(xdsDeps, 'googleapis'),
  };
  for (const [name, target] of Object.entries(modules)) {
    if (name !== 'validate') symlinkSync(target, join(work, name), 'dir');
  }
  // The validate.proto bundled with grpc-js-xds predates `StringRules.ignore_empty`, which the
  // bundled Envoy protos use; protoc-era loaders ignore unknown option fields, buf does not. The
  // workspace gets a copy with that one field added (number as upstream protoc-gen-validate).
  const validateSrc = readFileSync(join(modules.validate, 'validate/validate.proto'), 'utf8');
  const validatePatched = validateSrc.includes('ignore_empty')
    ? validateSrc
    : validateSrc.replace(
        /message StringRules \{/,
        'message StringRules {\n    optional bool ignore_empty = 26;',
      );
  mkdirSync(join(work, 'validate/validate'), { recursive: true });
  writeFileSync(join(work, 'validate/validate/validate.proto'), validatePatched);
  writeFileSync(
    join(work, 'buf.yaml'),
    ['version: v2', 'modules:', ...Object.keys(modules).map((m) => `  - path: ${m}`), ''].join('\n'),
  );
  writeFileSync(
    join(work, 'buf.gen.yaml'),
    [
      'version: v2',
      'plugins:',
      `  - local: ${JSON.stringify(tsProto)}`,
      '    out: gen',
      '    include_imports: true',
      '    include_wkt: true',
      `    opt: [${tsProtoOptions.join(', ')}]`,
      '',
    ].join('\n'),
  );
  const out = join(pkgDir, 'src/gen');
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const paths = [...envoyFiles.map((f) => `envoy-api/${f}`), ...weftFiles.map((f) => `weft/${f}`)];
  execFileSync(
    buf,
    ['generate', '--output', pkgDir.replace(/$/, '/src'), ...paths.flatMap((p) => ['--path', p])],
    {
      cwd: work,
      stdio: 'inherit',
    },
  );
  // The generated code is not written for this repo's strictest options (exactOptionalPropertyTypes,
  // noUncheckedIndexedAccess); it is checked by its generator, so tsc skips it. ts-proto's
  // `enumsAsLiterals` also emits a type-only `namespace` per enum: removed, so the source holds no
  // namespaces at all (type stripping and erasableSyntaxOnly).
  const stack = [out];
  let count = 0;
  while (stack.length > 0) {
    const dir = stack.pop();
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, entry.name);
      if (entry.isDirectory()) stack.push(p);
      else if (entry.name.endsWith('.ts')) {
        const text = readFileSync(p, 'utf8').replace(
          /^export namespace \w+ \{\n(?:(?: {2}| {4})[^\n]*\n)*\}\n/gm,
          '',
        );
        writeFileSync(p, `// @ts-nocheck\n${text}`);
        count++;
      }
    }
  }
  process.stdout.write(`generate: ${count} files in src/gen\n`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
