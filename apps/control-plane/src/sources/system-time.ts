// weftd reads the time and sets its timers (debounce, rescans, watch deadlines, list/watch backoff)
// on one clock, so a test drives them all with one manual clock (`createManualClock` from
// @weft/telemetry/testing).
import { type Clock, type Scheduler, systemClock, systemScheduler } from '@weft/telemetry';

/** The wall clock and the event loop's timers (which never keep the process alive). */
export const systemTime: Clock & Scheduler = { now: systemClock.now, schedule: systemScheduler.schedule };
