import { describe, expect, it } from 'vitest';
import { normalizeHost, normalizePath } from './normalize.ts';

describe('normalizePath', () => {
  const ok: [string, string][] = [
    ['/', '/'],
    ['/a/b', '/a/b'],
    ['/public/../admin', '/admin'],
    ['/a/./b/../../admin', '/admin'],
    ['/../../admin', '/admin'],
    ['//admin', '/admin'],
    ['/a///b//', '/a/b/'],
    ['/%2e%2e/admin', '/admin'],
    ['/public/%2E%2E/admin', '/admin'],
    ['/public/.%2e/admin', '/admin'],
    ['/%61dmin', '/admin'],
    ['/a/b/.', '/a/b/'],
    ['/a/b/..', '/a/'],
    ['/%7euser', '/~user'],
    ['/caf%c3%a9', '/caf%C3%A9'],
    ['/a%3Fb', '/a%3Fb'],
    ['/%252e%252e/admin', '/%252e%252e/admin'],
    ['/ADMIN', '/ADMIN'],
    ['*', '*'],
  ];
  it.each(ok)('%s -> %s', (raw, path) => {
    const r = normalizePath(raw);
    expect(r).toMatchObject({ ok: true, path });
  });

  it('splits query and strips fragment', () => {
    expect(normalizePath('/admin?x=1#frag')).toEqual({
      ok: true,
      path: '/admin',
      query: 'x=1',
      fragment: 'frag',
    });
    expect(normalizePath('/admin#/../public')).toEqual({
      ok: true,
      path: '/admin',
      query: undefined,
      fragment: '/../public',
    });
    expect(normalizePath('/a?b/../c')).toMatchObject({ path: '/a', query: 'b/../c' });
  });

  it('keeps ";" when path parameters are kept, and an encoded ";" always', () => {
    expect(normalizePath('/a;b/c', { pathParameters: 'keep' })).toMatchObject({ ok: true, path: '/a;b/c' });
    expect(normalizePath('/a%3bb/c')).toMatchObject({ ok: true, path: '/a%3Bb/c' });
    expect(normalizePath('/a?x=1;y=2')).toMatchObject({ ok: true, path: '/a', query: 'x=1;y=2' });
  });

  it('keeps double slashes when merging is off', () => {
    expect(normalizePath('//admin', { mergeSlashes: false })).toMatchObject({ ok: true, path: '//admin' });
  });

  const rejected: [string, string][] = [
    ['/admin%2F', 'escaped-slash'],
    ['/admin%2fsecret', 'escaped-slash'],
    ['/public%2F..%2Fadmin', 'escaped-slash'],
    ['/admin%5C', 'escaped-slash'],
    ['/public\\..\\admin', 'escaped-slash'],
    ['/..;/admin', 'path-parameter'],
    ['/admin;jsessionid=1/secret', 'path-parameter'],
    ['/admin%00.html', 'control-character'],
    ['/admin%0a', 'control-character'],
    ['/admin%7F', 'control-character'],
    ['/admin\u0000', 'control-character'],
    ['/a b', 'invalid-character'],
    ['/café', 'invalid-character'],
    ['/admin%', 'invalid-percent-encoding'],
    ['/admin%zz', 'invalid-percent-encoding'],
    ['/admin%2', 'invalid-percent-encoding'],
    ['admin', 'not-origin-form'],
    ['http://evil/admin', 'not-origin-form'],
    ['', 'empty'],
  ];
  it.each(rejected)('rejects %j (%s)', (raw, code) => {
    expect(normalizePath(raw)).toMatchObject({ ok: false, code });
  });

  it('decodes escaped slashes only when told to', () => {
    expect(normalizePath('/public%2F..%2Fadmin', { escapedSlashes: 'decode' })).toMatchObject({
      ok: true,
      path: '/admin',
    });
    expect(normalizePath('/admin%2F', { escapedSlashes: 'decode' })).toMatchObject({
      ok: true,
      path: '/admin/',
    });
    expect(normalizePath('/public\\..\\admin', { escapedSlashes: 'decode' })).toMatchObject({
      ok: true,
      path: '/admin',
    });
  });

  it('rejects oversized targets', () => {
    expect(normalizePath(`/${'a'.repeat(100)}`, { maxLength: 50 })).toMatchObject({
      ok: false,
      code: 'too-long',
    });
  });
});

describe('normalizeHost', () => {
  it.each([
    ['Secret.com', 'secret.com', undefined],
    ['secret.com:8080', 'secret.com', 8080],
    ['SECRET.COM.', 'secret.com', undefined],
    ['[::1]:443', '[::1]', 443],
    ['[2001:DB8::1]', '[2001:db8::1]', undefined],
    ['10.0.0.1:80', '10.0.0.1', 80],
  ])('%s -> %s', (raw, host, port) => {
    expect(normalizeHost(raw)).toEqual({ ok: true, host, port });
  });

  it.each(['', 'a b', 'host:99999', 'host:x', '[::1', 'a/b', 'user@host'])('rejects %j', (raw) => {
    expect(normalizeHost(raw).ok).toBe(false);
  });
});
