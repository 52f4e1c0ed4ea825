import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearerToken } from './authenticator.ts';
import { createStaticTokenAuthenticator, parseTokenFile } from './static-tokens.ts';

describe('token file', () => {
  it('parses tokens, comments and the optional node', () => {
    const r = parseTokenFile(
      [
        '# token namespace sa [node]',
        '',
        'aaaaaaaaaaaaaaaa default web',
        'bbbbbbbbbbbbbbbb\tweft-system\tztunnel\tnode-1',
      ].join('\n'),
    );
    expect(r.ok && [...r.value.entries()]).toEqual([
      ['aaaaaaaaaaaaaaaa', { namespace: 'default', serviceAccount: 'web' }],
      ['bbbbbbbbbbbbbbbb', { namespace: 'weft-system', serviceAccount: 'ztunnel', node: 'node-1' }],
    ]);
  });

  it.each([
    ['aaaaaaaaaaaaaaaa default', 1, /expected/],
    ['short default web', 1, /shorter than 16/],
    ['# c\naaaaaaaaaaaaaaaa Default web', 2, /namespace "Default"/],
    ['aaaaaaaaaaaaaaaa default web/x', 1, /service account/],
    ['aaaaaaaaaaaaaaaa default web node_1', 1, /node "node_1"/],
    ['aaaaaaaaaaaaaaaa a b\naaaaaaaaaaaaaaaa c d', 2, /duplicate/],
    ['aaaaaaaaaaaaaaaa a b c d', 1, /expected/],
  ])('rejects %j at line %i', (text, line, message) => {
    const r = parseTokenFile(text);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.line).toBe(line);
    expect(r.error.message).toMatch(message);
  });
});

describe('bearerToken', () => {
  it.each([
    [[], 'no-token'],
    [['Basic abc'], 'bad-token'],
    [['Bearer'], 'bad-token'],
    [['Bearer a', 'Bearer b'], 'bad-token'],
    [[`Bearer ${'x'.repeat(20_000)}`], 'bad-token'],
  ])('%j -> %s', (values, reason) => {
    const r = bearerToken(values);
    expect(r.ok ? 'ok' : r.error.reason).toBe(reason);
  });

  it('accepts any case of the scheme', () => {
    expect(bearerToken(['bearer tok'])).toEqual({ ok: true, value: 'tok' });
  });
});

describe('static token authenticator', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'weft-ca-tokens-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reloads the file, keeping the old tokens when the new file is bad', async () => {
    const path = join(dir, 'tokens');
    await writeFile(path, 'aaaaaaaaaaaaaaaa default web\n');
    const auth = await createStaticTokenAuthenticator({ path, watch: false });
    expect((await auth.authenticate('aaaaaaaaaaaaaaaa')).ok).toBe(true);

    await writeFile(path, 'bbbbbbbbbbbbbbbb default api\n');
    expect((await auth.reload()).ok).toBe(true);
    expect((await auth.authenticate('aaaaaaaaaaaaaaaa')).ok).toBe(false);
    expect(await auth.authenticate('bbbbbbbbbbbbbbbb')).toEqual({
      ok: true,
      value: { namespace: 'default', serviceAccount: 'api' },
    });

    await writeFile(path, 'garbage\n');
    const bad = await auth.reload();
    expect(bad.ok ? 0 : bad.error.line).toBe(1);
    expect((await auth.authenticate('bbbbbbbbbbbbbbbb')).ok).toBe(true);
    auth.close();
  });

  it('picks up a file replaced by rename when watching', async () => {
    const path = join(dir, 'watched');
    await writeFile(path, 'cccccccccccccccc default web\n');
    const auth = await createStaticTokenAuthenticator({ path });
    await writeFile(`${path}.tmp`, 'dddddddddddddddd default web\n');
    await rename(`${path}.tmp`, path);
    let accepted = false;
    for (let i = 0; i < 100 && !accepted; i++) {
      accepted = (await auth.authenticate('dddddddddddddddd')).ok;
      if (!accepted) await new Promise((r) => setTimeout(r, 50));
    }
    auth.close();
    expect(accepted).toBe(true);
    expect((await auth.authenticate('cccccccccccccccc')).ok).toBe(false);
  });

  it('refuses to start on a bad or missing file', async () => {
    await expect(createStaticTokenAuthenticator({ text: 'x y' })).rejects.toThrow(/line 1/);
    await expect(createStaticTokenAuthenticator({ path: join(dir, 'missing') })).rejects.toThrow(
      /cannot read/,
    );
  });
});
