// The README's example, run as written there.
import { expect, it } from 'vitest';
import { ambientRules, installRules, ruleSpec } from './index.ts';
import { decodeLine, encodeMessage } from './protocol/index.ts';

it('README example', () => {
  const spec = ruleSpec({
    annotations: { 'weft.dev/exclude-inbound-ports': '9090' },
    probeSources: ['10.22.0.1'],
  });
  if (!spec.ok) throw new Error(spec.error.message);
  const text = installRules(ambientRules(spec.spec, 4));
  expect(text.startsWith('*nat\n:WEFT_INBOUND - [0:0]\n')).toBe(true);
  expect(text).toContain('-A WEFT_INBOUND -s 10.22.0.1/32 -j RETURN\n');
  expect(text).toContain('-A WEFT_INBOUND -p tcp -m tcp --dport 9090 -j RETURN\n');
  expect(text.endsWith('COMMIT\n')).toBe(true);

  const line = encodeMessage({ type: 'ack', id: 7 });
  expect(line).toBe('{"type":"ack","id":7}\n');
  expect(decodeLine(line)).toEqual({ ok: true, value: { type: 'ack', id: 7 } });
  expect(decodeLine('{"type":"ack","id":7,"x":1}')).toEqual({ ok: false, error: 'unknown field "x"', id: 7 });
});
