// A minimal proxy for the multi-worker tests: a TCP port answering "<worker> <pid>" and closing,
// and an HTTP endpoint with a Prometheus counter of those answers, readiness and a per-worker
// path. Run: node test-fixtures/workers.mjs <concurrency> <data port> <http port> [not-ready worker]
import { createServer } from 'node:net';
import { createHttpEndpoint, parseConcurrency, runWorkers, sendText } from '@weft/proxy-core';
import { createLogger, streamSink } from '@weft/telemetry';

const [concurrencyText, dataPort, httpPort, notReady] = process.argv.slice(2);
const parsed = parseConcurrency(concurrencyText);
if (!parsed.ok) {
  process.stderr.write(`fixture: ${parsed.error}\n`);
  process.exit(2);
}
const logger = createLogger({ sink: streamSink(process.stderr), fields: { component: 'fixture' } });
const me = process.env.WEFT_WORKER_ID ?? '0';
let served = 0;

await runWorkers({
  component: 'fixture',
  concurrency: parsed.value,
  logger,
  serve: async () => {
    const data = createServer((s) => {
      served++;
      s.end(`${me} ${process.pid}\n`);
    });
    await new Promise((resolve, reject) => {
      data.once('error', reject);
      data.listen(Number(dataPort), '127.0.0.1', resolve);
    });
    const http = createHttpEndpoint({
      onBadRequest: () => {},
      routes: {
        '/metrics': (_req, res) =>
          sendText(
            res,
            200,
            '# HELP fixture_answers_total Answers.\n# TYPE fixture_answers_total counter\n' +
              `fixture_answers_total{port="data"} ${served}\n` +
              '# TYPE fixture_started_seconds gauge\n' +
              `fixture_started_seconds ${1000 + Number(me)}\n`,
          ),
        '/healthz/ready': (_req, res) =>
          me === notReady ? sendText(res, 503, 'not ready\n') : sendText(res, 200, 'ready\n'),
        '/whoami': (_req, res) => sendText(res, 200, `${me} ${process.pid}\n`),
        '/execargv': (_req, res) => sendText(res, 200, `${process.execArgv.join(' ')}\n`),
      },
    });
    await new Promise((resolve, reject) => {
      http.once('error', reject);
      http.listen(Number(httpPort), '127.0.0.1', resolve);
    });
    process.on('SIGTERM', () => {
      data.close();
      http.close();
      process.exit(0);
    });
  },
});
