// Test doubles for weftd and for e2e scenarios that drive it.
export { ManualClock } from './manual-clock.ts';
export { SourceRecorder, waitFor } from './recorder.ts';
