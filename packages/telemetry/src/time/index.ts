export { Backoff, type BackoffOptions, backoffDelay } from './backoff.ts';
export {
  type Clock,
  MAX_TIMER_DELAY_MS,
  monotonicClock,
  type Scheduler,
  sleep,
  systemClock,
  systemScheduler,
  type TimerHandle,
} from './clock.ts';
