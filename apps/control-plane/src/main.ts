#!/usr/bin/env node
// weftd's entry point: parse flags, build the control plane, stop it on SIGINT/SIGTERM.
import { createLogger, streamSink } from '@weft/telemetry';
import { createControlPlane } from './control-plane.ts';
import { parseFlags, USAGE } from './flags.ts';
import { KubeConfig } from './sources/index.ts';

async function main(): Promise<number> {
  const flags = parseFlags(process.argv.slice(2));
  if (!flags.ok) {
    process.stderr.write(`weftd: ${flags.error}\n\n${USAGE}`);
    return 2;
  }
  if ('help' in flags) {
    process.stdout.write(USAGE);
    return 0;
  }
  const { config, kube, logLevel, logFormat } = flags.value;
  const logger = createLogger({
    sink: streamSink(process.stderr),
    level: logLevel,
    format: logFormat,
    fields: { component: 'weftd' },
  });
  let kubeConfig: KubeConfig | undefined;
  if (kube !== undefined) {
    kubeConfig = new KubeConfig();
    if (kube.kind === 'file') kubeConfig.loadFromFile(kube.path);
    else kubeConfig.loadFromCluster();
  }
  const cp = await createControlPlane({ ...config, ...(kubeConfig ? { kubeConfig } : {}) }, { logger });
  const stop = (signal: string) => {
    logger.info('shutting down', { signal });
    // Let the event loop drain (log lines flush); a handle that lingers gets 2 s.
    cp.close().then(
      () => {
        process.exitCode = 0;
        setTimeout(() => process.exit(0), 2000).unref();
      },
      () => process.exit(1),
    );
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
  return -1;
}

main().then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (err: unknown) => {
    process.stderr.write(`weftd: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
