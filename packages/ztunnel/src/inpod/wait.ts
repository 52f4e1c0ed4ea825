// A bounded wait that stops waiting once one wait has timed out, until its condition has held
// again: with the config source or the CA away, an agent snapshot of N pods must take one
// timeout, not N.

export interface BoundedWait {
  /** Resolves with cond() once it holds, or at the deadline (at once while given up). */
  until(cond: () => boolean, stop?: () => boolean): Promise<boolean>;
}

export function createBoundedWait(timeoutMs: number, pollMs = 20): BoundedWait {
  let gaveUp = false;
  return {
    async until(cond, stop = () => false) {
      if (cond()) {
        gaveUp = false;
        return true;
      }
      if (gaveUp) return false;
      const deadline = Date.now() + timeoutMs;
      while (!cond() && Date.now() < deadline && !stop()) {
        await new Promise((r) => setTimeout(r, pollMs));
      }
      const ok = cond();
      gaveUp = !ok && !stop();
      return ok;
    },
  };
}
