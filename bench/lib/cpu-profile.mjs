// Preload for profiling a mesh process under load: `NODE_OPTIONS="--import <this file>"` (Node 20
// refuses --cpu-prof in NODE_OPTIONS). Writes .cpuprofile files (Chrome DevTools, speedscope) to
// WEFT_CPU_PROFILE_DIR (default the working directory). By default it samples from start to exit;
// with WEFT_CPU_PROFILE_ON_SIGNAL=1 each SIGUSR2 starts or stops (and writes) a profile instead,
// so a profile covers only the load of interest.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';

const dir = process.env.WEFT_CPU_PROFILE_DIR ?? process.cwd();
const name = process.argv[1]?.split('/').slice(-3).join('-') ?? 'node';
const session = new Session();
session.connect();
session.post('Profiler.enable');
session.post('Profiler.setSamplingInterval', { interval: 200 });
let running = false;
let seq = 0;

function start() {
  session.post('Profiler.start');
  running = true;
}
function stop() {
  if (!running) return;
  running = false;
  // A session on the main thread answers synchronously, which an exit handler needs.
  session.post('Profiler.stop', (err, result) => {
    if (err !== null || result === undefined) return;
    writeFileSync(join(dir, `${name}-${process.pid}-${++seq}.cpuprofile`), JSON.stringify(result.profile));
  });
}

if (process.env.WEFT_CPU_PROFILE_ON_SIGNAL === '1') {
  process.on('SIGUSR2', () => (running ? stop() : start()));
} else {
  start();
}
process.once('exit', stop);
