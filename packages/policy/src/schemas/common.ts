// Building blocks shared by the resource schemas. Everything here is plain validation (no
// transforms), so that the same zod source also produces the published JSON Schemas.
import { z } from 'zod';
import { DURATION_PATTERN, parseDuration } from '../duration.ts';
import { parseCidr } from '../net/ip.ts';

export const dnsLabel = z
  .string()
  .max(63)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a DNS label: lowercase letters, digits and "-"');

export const dnsSubdomain = z
  .string()
  .max(253)
  .regex(
    /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/,
    'must be a DNS subdomain: lowercase letters, digits, "-" and "."',
  );

const LABEL_NAME = '[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?';
export const labelKey = z
  .string()
  .max(317)
  .regex(
    new RegExp(`^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?${LABEL_NAME}$`),
    'must be a label key: [prefix/]name, name of at most 63 letters, digits, "-", "_" or "."',
  );
export const labelValue = z
  .string()
  .max(63)
  .regex(
    new RegExp(`^(${LABEL_NAME})?$`),
    'must be a label value: at most 63 letters, digits, "-", "_" or "."',
  );

export const labels = z.record(labelKey, labelValue);

export const objectMeta = z.object({
  name: dnsSubdomain,
  namespace: dnsLabel.optional(),
  labels: labels.optional(),
  annotations: z.record(z.string(), z.string()).optional(),
  uid: z.string().max(128).optional(),
  resourceVersion: z.string().max(128).optional(),
  creationTimestamp: z.string().max(64).optional(),
  generation: z.number().int().optional(),
});

export const port = z.number().int().min(1, 'port must be 1..65535').max(65535, 'port must be 1..65535');

export const duration = z
  .string()
  .regex(new RegExp(DURATION_PATTERN), 'must be a duration such as "1.5s", "100ms" or "1h30m"')
  .superRefine((value, ctx) => {
    const ms = parseDuration(value);
    if (ms === undefined || ms > 315_576_000_000_000)
      ctx.addIssue({ code: 'custom', message: 'duration out of range' });
  });

export const cidr = z
  .string()
  .max(64)
  .superRefine((value, ctx) => {
    if (!parseCidr(value)) {
      ctx.addIssue({
        code: 'custom',
        message: `${JSON.stringify(value)} is not an IP address or CIDR block`,
      });
    }
  });

export const headerName = z
  .string()
  .min(1)
  .max(256)
  .regex(/^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$/, 'must be an HTTP header name');

/** Regular expressions are matched against the whole value with JavaScript's engine, so only
 * the RE2-compatible subset is allowed (no look-around, no back-references). */
export const regex = z
  .string()
  .min(1)
  .max(1024)
  .superRefine((value, ctx) => {
    const problem = regexProblem(value);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

export function regexProblem(value: string): string | undefined {
  if (/\(\?<?[=!]/.test(value)) return 'look-around is not supported in regular expressions';
  if (/\\[1-9]|\\k</.test(value)) return 'back-references are not supported in regular expressions';
  try {
    new RegExp(value, 'u');
  } catch (err) {
    return `invalid regular expression: ${(err as Error).message}`;
  }
  return undefined;
}

/** A string matched exactly, by prefix ("abc*"), by suffix ("*abc") or for presence ("*"). */
export function wildcardString(what: string) {
  return z
    .string()
    .min(1, `${what} must not be empty`)
    .max(1024)
    .superRefine((value, ctx) => {
      const stars = value.split('*').length - 1;
      if (value === '*' || stars === 0) return;
      if (stars === 1 && (value.startsWith('*') || value.endsWith('*'))) return;
      ctx.addIssue({
        code: 'custom',
        message: `${what} ${JSON.stringify(value)}: "*" is allowed only alone, as a prefix or as a suffix`,
      });
    });
}

export const workloadSelector = z.strictObject({ matchLabels: labels.optional() });

export function typeMeta<const V extends readonly [string, ...string[]], const K extends string>(
  versions: V,
  kind: K,
) {
  return {
    apiVersion: z.enum(versions, { error: `apiVersion must be one of ${versions.join(', ')}` }),
    kind: z.literal(kind),
    metadata: objectMeta,
  };
}
