import type { AgentMessage } from '@weft/cni/protocol';
import { describe, expect, it } from 'vitest';
import { createPodEnrollment, type EnrolledPod } from './enrollment.ts';

const pod = (name: string) => ({ namespace: 'demo', name });
const add = (id: number, name: string, netns = `/var/run/netns/${name}`): AgentMessage => ({
  type: 'add',
  id,
  pod: pod(name),
  netns,
});

function setup(failing: Set<string> = new Set()) {
  const applied: string[][] = [];
  const e = createPodEnrollment({
    apply: async () => {
      applied.push([...e.pods().keys()].sort());
    },
    status: async (p: EnrolledPod) => (failing.has(p.pod.name) ? `listen failed in ${p.netns}` : undefined),
  });
  return { e, applied };
}

const keys = (e: ReturnType<typeof setup>['e']) => [...e.pods().keys()].sort();

describe('createPodEnrollment', () => {
  it('add enrolls and applies; a failing pod throws its reason (the error ack) but stays enrolled', async () => {
    const { e, applied } = setup(new Set(['b']));
    e.connection(true);
    await e.handle(add(1, 'a'));
    await expect(e.handle(add(2, 'b'))).rejects.toThrow('listen failed in /var/run/netns/b');
    expect(keys(e)).toEqual(['demo/a', 'demo/b']);
    expect(applied).toEqual([['demo/a'], ['demo/a', 'demo/b']]);
    expect(e.synced()).toBe(false);
  });

  it('remove forgets, also a pod never enrolled', async () => {
    const { e } = setup();
    e.connection(true);
    await e.handle(add(1, 'a'));
    await e.handle({ type: 'remove', id: 2, pod: pod('a') });
    await e.handle({ type: 'remove', id: 3, pod: pod('zz') });
    expect(keys(e)).toEqual([]);
  });

  it('a re-add moves the pod to the new netns', async () => {
    const { e } = setup();
    e.connection(true);
    await e.handle(add(1, 'a', '/var/run/netns/one'));
    await e.handle(add(2, 'a', '/var/run/netns/two'));
    expect(e.pods().get('demo/a')?.netns).toBe('/var/run/netns/two');
  });

  it('a reconnect snapshot replaces the set once snapshot-done arrives', async () => {
    const { e } = setup();
    e.connection(true);
    await e.handle(add(1, 'a'));
    await e.handle(add(2, 'b'));
    await e.handle({ type: 'snapshot-done', id: 3 });
    expect(e.synced()).toBe(true);
    e.connection(false);
    expect(e.connected()).toBe(false);
    // The agent comes back knowing only b and c: a stays until the snapshot is complete.
    e.connection(true);
    await e.handle(add(1, 'b'));
    await e.handle(add(2, 'c'));
    expect(keys(e)).toEqual(['demo/a', 'demo/b', 'demo/c']);
    await e.handle({ type: 'snapshot-done', id: 3 });
    expect(keys(e)).toEqual(['demo/b', 'demo/c']);
  });

  it('an empty snapshot drops every pod', async () => {
    const { e } = setup();
    e.connection(true);
    await e.handle(add(1, 'a'));
    await e.handle({ type: 'snapshot-done', id: 2 });
    e.connection(true);
    await e.handle({ type: 'snapshot-done', id: 1 });
    expect(keys(e)).toEqual([]);
  });
});
