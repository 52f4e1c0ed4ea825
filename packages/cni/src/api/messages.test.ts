import { describe, expect, it } from 'vitest';
import {
  decodeAddRequest,
  decodeAnswer,
  decodeCheckRequest,
  decodeDelRequest,
  MAX_BODY_BYTES,
} from './messages.ts';

const add = {
  namespace: 'demo',
  name: 'echo-1',
  uid: 'uid-1',
  containerId: 'c0ffee',
  netns: '/var/run/netns/cni-1',
  ifname: 'eth0',
  ips: [{ address: '10.22.0.5/16', gateway: '10.22.0.1' }, { address: 'fd00::5/64' }],
};

describe('decodeAddRequest', () => {
  it('accepts a well-formed request', () => {
    expect(decodeAddRequest(JSON.stringify(add))).toEqual({ ok: true, value: add });
  });
  it.each<[string, unknown, string]>([
    ['garbage', 'nope', 'not valid JSON'],
    ['array', [], 'not a JSON object'],
    ['extra field', { ...add, admin: true }, 'unknown field "admin"'],
    ['bad namespace', { ...add, namespace: 'Demo' }, 'namespace'],
    ['bad name', { ...add, name: '../etc' }, 'name'],
    ['bad uid', { ...add, uid: 'a b' }, 'uid'],
    ['bad containerId', { ...add, containerId: '-x' }, 'containerId'],
    ['netns outside', { ...add, netns: '/home/x' }, 'not under'],
    ['netns not a string', { ...add, netns: 1 }, 'netns must be a string'],
    ['bad ifname', { ...add, ifname: 'a/b' }, 'ifname'],
    ['ips not an array', { ...add, ips: {} }, 'ips must be an array'],
    ['ip extra field', { ...add, ips: [{ address: '1.2.3.4', x: 1 }] }, 'ips[0]: unknown field "x"'],
    ['ip address missing', { ...add, ips: [{}] }, 'ips[0].address'],
    [
      'too many ips',
      { ...add, ips: Array.from({ length: 17 }, () => ({ address: '1.2.3.4' })) },
      'more than 16',
    ],
  ])('refuses %s', (_name, body, reason) => {
    const r = decodeAddRequest(typeof body === 'string' ? body : JSON.stringify(body));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toContain(reason);
  });
  it('refuses a body over the limit', () => {
    const r = decodeAddRequest(' '.repeat(MAX_BODY_BYTES + 1));
    expect(r).toEqual({ ok: false, error: `body larger than ${MAX_BODY_BYTES}` });
  });
});

describe('decodeDelRequest and decodeCheckRequest', () => {
  it('DEL needs only the container ID', () => {
    expect(decodeDelRequest('{"containerId":"c1"}')).toEqual({ ok: true, value: { containerId: 'c1' } });
    expect(decodeDelRequest('{"containerId":"c1","netns":"/tmp/x"}').ok).toBe(false);
    expect(decodeDelRequest('{}').ok).toBe(false);
  });
  it('CHECK needs the pod and its netns', () => {
    const body = { containerId: 'c1', namespace: 'demo', name: 'a', netns: '/proc/7/ns/net' };
    expect(decodeCheckRequest(JSON.stringify(body))).toEqual({ ok: true, value: body });
    expect(decodeCheckRequest(JSON.stringify({ ...body, name: undefined })).ok).toBe(false);
  });
});

describe('decodeAnswer', () => {
  it.each<[number, string, unknown]>([
    [
      200,
      '{"result":"enrolled","mode":"ambient"}',
      { ok: true, value: { result: 'enrolled', mode: 'ambient' } },
    ],
    [
      200,
      '{"result":"bogus"}',
      { ok: false, error: 'node agent answered an unknown result "bogus"', retryable: false },
    ],
    [500, '{"error":"boom"}', { ok: false, error: 'boom', retryable: false }],
    [503, '{"error":"busy"}', { ok: false, error: 'busy', retryable: true }],
    [400, '{"error":"bad","retryable":true}', { ok: false, error: 'bad', retryable: true }],
    [
      502,
      '<html>',
      { ok: false, error: 'node agent answered 502 with body is not valid JSON', retryable: false },
    ],
    [404, '{}', { ok: false, error: 'node agent answered 404', retryable: false }],
  ])('status %d, body %s', (status, body, want) => {
    expect(decodeAnswer(status, body, ['enrolled', 'not-in-mesh'])).toEqual(want);
  });
});
