// The pods the node agent has enrolled on this node, kept from its messages (@weft/cni/protocol):
// `add` enrolls a pod with its netns, `remove` forgets it, and on every new connection the agent
// replays its enrolled pods then sends `snapshot-done`, after which pods it did not replay are
// dropped (they went away while ztunnel or the agent was down). After each change `apply` runs
// (ztunnel reconciles its listeners); an `add` is answered only once the pod's listeners are open,
// and an error (thrown: the protocol client turns it into an error ack) when they are not.
import type { AgentMessage, PodRef } from '@weft/cni/protocol';

export interface EnrolledPod {
  readonly pod: PodRef;
  readonly netns: string;
}

/** "namespace/name": one enrollment per pod. */
export function podKey(pod: Pick<PodRef, 'namespace' | 'name'>): string {
  return `${pod.namespace}/${pod.name}`;
}

export interface PodEnrollmentOptions {
  /** Brings listeners in line with `pods()`; resolves when done. */
  apply(): Promise<void>;
  /** After apply: undefined when the pod's listeners are open, else why not. */
  status(pod: EnrolledPod): Promise<string | undefined>;
}

export interface PodEnrollment {
  /** The node agent protocol handler: throws to answer with an error ack. */
  handle(message: AgentMessage): Promise<void>;
  /** The protocol client's connection events: a new connection starts a snapshot. */
  connection(connected: boolean): void;
  pods(): ReadonlyMap<string, EnrolledPod>;
  /** Whether the agent is connected now. */
  connected(): boolean;
  /** Whether a snapshot has completed since ztunnel started. */
  synced(): boolean;
}

export function createPodEnrollment(options: PodEnrollmentOptions): PodEnrollment {
  const pods = new Map<string, EnrolledPod>();
  let connected = false;
  let synced = false;
  // Pods added since the current connection opened; undefined once its snapshot is done.
  let snapshot: Set<string> | undefined;

  async function handle(message: AgentMessage): Promise<void> {
    switch (message.type) {
      case 'add': {
        const key = podKey(message.pod);
        const entry: EnrolledPod = { pod: message.pod, netns: message.netns };
        pods.set(key, entry);
        snapshot?.add(key);
        await options.apply();
        // Only the latest enrollment of the pod is answered for: a remove or re-add queued behind
        // this message is handled after it (the client runs messages in order).
        const error = await options.status(entry);
        if (error !== undefined) throw new Error(error);
        return;
      }
      case 'remove':
        pods.delete(podKey(message.pod));
        await options.apply();
        return;
      case 'snapshot-done': {
        const seen = snapshot ?? new Set<string>();
        for (const key of [...pods.keys()]) if (!seen.has(key)) pods.delete(key);
        snapshot = undefined;
        synced = true;
        await options.apply();
        return;
      }
      default: {
        const never: never = message;
        throw new Error(`unknown message ${JSON.stringify(never)}`);
      }
    }
  }

  return {
    handle,
    connection(up) {
      connected = up;
      if (up) snapshot = new Set();
    },
    pods: () => pods,
    connected: () => connected,
    synced: () => synced,
  };
}
