import { describe, expect, it } from 'vitest';
import {
  decodeAgentMessage,
  decodeLine,
  decodeZtunnelMessage,
  encodeMessage,
  MAX_LINE_LENGTH,
} from './messages.ts';
import { netnsPathError } from './netns.ts';

const pod = { namespace: 'demo', name: 'echo-1', uid: 'abc-123' };

describe('encodeMessage / decodeLine round trip', () => {
  it.each([
    { type: 'add', id: 1, pod, netns: '/var/run/netns/cni-1' },
    { type: 'add', id: 2, pod: { namespace: 'demo', name: 'echo-1' }, netns: '/proc/42/ns/net' },
    { type: 'remove', id: 3, pod },
    { type: 'snapshot-done', id: 0 },
    { type: 'ack', id: 4 },
    { type: 'ack', id: 5, error: 'netns gone' },
  ] as const)('%j', (message) => {
    const line = encodeMessage(message);
    expect(line.endsWith('\n')).toBe(true);
    expect(line.slice(0, -1)).not.toContain('\n');
    expect(decodeLine(line)).toEqual({ ok: true, value: message });
    expect(decodeLine(line.slice(0, -1))).toEqual({ ok: true, value: message });
  });
});

describe('decodeLine refuses garbage with a reason', () => {
  const cases: Array<[string, string, number | undefined]> = [
    ['', 'empty line', undefined],
    ['   ', 'empty line', undefined],
    ['{', 'not valid JSON', undefined],
    ['\u0000\u0001binary', 'not valid JSON', undefined],
    ['[1,2]', 'not a JSON object', undefined],
    ['null', 'not a JSON object', undefined],
    ['"add"', 'not a JSON object', undefined],
    ['{"type":"add"}', 'id must be', undefined],
    ['{"type":"ack","id":-1}', 'id must be', undefined],
    ['{"type":"ack","id":1.5}', 'id must be', undefined],
    ['{"type":"ack","id":"1"}', 'id must be', undefined],
    ['{"type":"ack","id":9007199254740993}', 'id must be', undefined],
    ['{"type":"hello","id":7}', 'unknown message type "hello"', 7],
    ['{"type":7,"id":7}', 'type must be a string', 7],
    ['{"id":7}', 'type must be a string', 7],
    ['{"type":"ack","id":7,"extra":1}', 'unknown field "extra"', 7],
    ['{"type":"ack","id":7,"__proto__":{}}', 'unknown field "__proto__"', 7],
    ['{"type":"ack","id":7,"error":5}', 'error must be a string', 7],
    ['{"type":"snapshot-done","id":7,"pods":[]}', 'unknown field "pods"', 7],
    ['{"type":"remove","id":7}', 'pod must be an object', 7],
    ['{"type":"remove","id":7,"pod":[]}', 'pod must be an object', 7],
    ['{"type":"remove","id":7,"pod":{"namespace":"a","name":"b","x":1}}', 'unknown field "pod.x"', 7],
    ['{"type":"remove","id":7,"pod":{"namespace":"A_B","name":"b"}}', 'pod.namespace', 7],
    ['{"type":"remove","id":7,"pod":{"namespace":"a","name":""}}', 'pod.name', 7],
    ['{"type":"remove","id":7,"pod":{"namespace":"a","name":"b","uid":"x y"}}', 'pod.uid', 7],
    ['{"type":"add","id":7,"pod":{"namespace":"a","name":"b"}}', 'netns must be a string', 7],
    ['{"type":"add","id":7,"pod":{"namespace":"a","name":"b"},"netns":"/etc/passwd"}', 'not under', 7],
    [
      '{"type":"add","id":7,"pod":{"namespace":"a","name":"b"},"netns":"/var/run/netns/../x"}',
      'not a plain file name',
      7,
    ],
  ];
  it.each(cases)('%s', (line, reason, id) => {
    const result = decodeLine(line);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error).toContain(reason);
    expect(result.id).toBe(id);
  });

  it('refuses a line longer than the limit', () => {
    const line = `{"type":"ack","id":1,"error":"${'x'.repeat(MAX_LINE_LENGTH)}"}`;
    const result = decodeLine(line);
    expect(result).toEqual({ ok: false, error: `line longer than ${MAX_LINE_LENGTH}` });
  });
});

describe('direction-specific decoders', () => {
  it('ztunnel refuses an ack; the agent refuses an add', () => {
    expect(decodeAgentMessage('{"type":"ack","id":3}')).toEqual({
      ok: false,
      error: 'ack is not sent by the node agent',
      id: 3,
    });
    expect(decodeZtunnelMessage('{"type":"snapshot-done","id":3}')).toEqual({
      ok: false,
      error: 'snapshot-done is not sent by ztunnel',
      id: 3,
    });
    expect(decodeAgentMessage('{"type":"snapshot-done","id":3}').ok).toBe(true);
    expect(decodeZtunnelMessage('{"type":"ack","id":3}').ok).toBe(true);
  });
});

describe('netnsPathError', () => {
  it.each([
    ['/var/run/netns/cni-1234-abcd', undefined],
    ['/run/netns/pod_a.1', undefined],
    ['/proc/1/ns/net', undefined],
    ['/proc/4242/ns/net', undefined],
  ])('accepts %s', (path, want) => {
    expect(netnsPathError(path)).toBe(want);
  });
  it.each([
    '',
    'netns/x',
    '/var/run/netns/',
    '/var/run/netns/..',
    '/var/run/netns/a/b',
    '/var/run/netns/.hidden',
    '/proc/self/ns/net',
    '/proc/0/ns/net',
    '/proc/12/ns/mnt',
    '/proc/12/ns/net/',
    '/tmp/netns',
    '/etc/shadow',
  ])('refuses %j', (path) => {
    expect(netnsPathError(path)).toBeTypeOf('string');
  });
});
