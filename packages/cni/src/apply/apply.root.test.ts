// Real iptables in throwaway netns (root only): the builder's text is valid iptables-restore
// input for both families, iptables-save prints it back exactly, and switching or removing
// touches nothing but ours.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ambientRules, EMPTY_SPEC, type Family, ruleSpec, sidecarRules } from '../rules/index.ts';
import { isRoot, NOT_ROOT_MESSAGE, ThrowawayNetns } from '../testing/netns.ts';
import { nsenterApplier, RuleCommandError } from './applier.ts';
import { inspectRules, syncRules } from './apply.ts';

const root = isRoot();
if (!root) console.log(`@weft/cni apply: ${NOT_ROOT_MESSAGE}`);

const parsed = ruleSpec({
  annotations: { 'weft.dev/exclude-inbound-ports': '9090,8080', 'weft.dev/exclude-outbound-ports': '5432' },
  probeSources: ['10.22.0.1', 'fd00:22::1'],
});
if (!parsed.ok) throw new Error(parsed.error.message);
const spec = parsed.spec;
const both = (build: typeof ambientRules, s = spec) => ({ 4: build(s, 4), 6: build(s, 6) });

describe.skipIf(!root)('rules applied in a real netns', () => {
  let ns: ThrowawayNetns;
  const applier = nsenterApplier();
  beforeEach(() => {
    ns = new ThrowawayNetns('apply');
    // Someone else's rules, which must survive.
    ns.exec(
      'iptables-restore',
      ['--noflush'],
      '*nat\n:KUBE_X - [0:0]\n-A OUTPUT -d 10.96.0.10/32 -j KUBE_X\nCOMMIT\n',
    );
  });
  afterEach(() => ns.close());

  it('installs ambient for IPv4 and IPv6, then sees nothing to change', async () => {
    expect(await syncRules(applier, ns.path, both(ambientRules))).toEqual({ changed: [4, 6] });
    const checks = await inspectRules(applier, ns.path, both(ambientRules));
    expect(checks[4]?.ok && checks[6]?.ok).toBe(true);
    expect(await syncRules(applier, ns.path, both(ambientRules))).toEqual({ changed: [] });
    const save = ns.exec('iptables-save', ['-t', 'nat']);
    expect(save).toContain('-A WEFT_OUTBOUND -m mark --mark 0x539/0xfff -j RETURN');
    expect(ns.exec('ip6tables-save', ['-t', 'nat'])).toContain('-A WEFT_INBOUND -s fd00:22::1/128 -j RETURN');
  });

  it('switches ambient -> sidecar -> removed, leaving foreign rules alone', async () => {
    await syncRules(applier, ns.path, both(ambientRules));
    expect(await syncRules(applier, ns.path, both(sidecarRules, EMPTY_SPEC))).toEqual({ changed: [4, 6] });
    const save = ns.exec('iptables-save', ['-t', 'nat']);
    expect(save).toContain('--uid-owner 1337');
    expect(save).not.toContain('0x539');
    expect(await syncRules(applier, ns.path, {})).toEqual({ changed: [4, 6] });
    for (const [cmd, fam] of [
      ['iptables-save', 4],
      ['ip6tables-save', 6],
    ] as const) {
      const after = ns.exec(cmd, ['-t', 'nat']);
      expect(after, `IPv${fam}`).not.toContain('WEFT_');
    }
    expect(ns.exec('iptables-save', ['-t', 'nat'])).toContain('-A OUTPUT -d 10.96.0.10/32 -j KUBE_X');
  });

  it('repairs a netns where someone deleted one of our jumps and added a rule to our chain', async () => {
    await syncRules(applier, ns.path, both(ambientRules));
    ns.exec('iptables', ['-t', 'nat', '-D', 'OUTPUT', '-p', 'tcp', '-j', 'WEFT_OUTBOUND']);
    ns.exec('iptables', ['-t', 'nat', '-I', 'WEFT_INBOUND', '1', '-j', 'RETURN']);
    const before = await inspectRules(applier, ns.path, both(ambientRules));
    expect(before[4]?.ok).toBe(false);
    expect(await syncRules(applier, ns.path, both(ambientRules))).toEqual({ changed: [4] });
    const after = await inspectRules(applier, ns.path, both(ambientRules));
    expect(after[4]?.ok).toBe(true);
  });

  it('fails with the command named for a netns that does not exist', async () => {
    const err = await syncRules(applier, '/var/run/netns/weftcni-does-not-exist', both(ambientRules)).catch(
      (e) => e,
    );
    expect(err).toBeInstanceOf(RuleCommandError);
    expect(String(err.message)).toContain('iptables-save');
  });

  it.each([4, 6] as Family[])(
    'IPv%s: a refused restore changes nothing (one transaction)',
    async (family) => {
      const bad = `*nat\n:WEFT_INBOUND - [0:0]\n-A OUTPUT -p tcp -j WEFT_INBOUND\n-A OUTPUT -j WEFT_MISSING\nCOMMIT\n`;
      await expect(applier.restore(ns.path, family, bad)).rejects.toThrow(RuleCommandError);
      expect(ns.exec(family === 4 ? 'iptables-save' : 'ip6tables-save', ['-t', 'nat'])).not.toContain(
        'WEFT_',
      );
    },
  );
});
