import { REJECT_REASONS, type RejectReason } from './errors.ts';

export interface CaMetricsSnapshot {
  readonly issued: number;
  readonly rejected: Readonly<Record<RejectReason, number>>;
}

/** Counters of the CA: certificates issued and requests rejected, by reason. */
export class CaMetrics {
  issued = 0;
  readonly rejected: Record<RejectReason, number>;

  constructor() {
    this.rejected = Object.fromEntries(REJECT_REASONS.map((r) => [r, 0])) as Record<RejectReason, number>;
  }

  recordIssued(): void {
    this.issued++;
  }

  recordRejected(reason: RejectReason): void {
    this.rejected[reason]++;
  }

  get rejectedTotal(): number {
    let n = 0;
    for (const r of REJECT_REASONS) n += this.rejected[r];
    return n;
  }

  snapshot(): CaMetricsSnapshot {
    return { issued: this.issued, rejected: { ...this.rejected } };
  }
}
