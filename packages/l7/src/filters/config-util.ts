// Small validators shared by the filters' config.ts files.
import type { HeaderModifier } from '@weft/policy';
import { isValidHeaderName, isValidHeaderValue, PROTECTED_HEADERS } from '../http/headers.ts';
import type { ConfigResult, FilterConfigError, FilterFactory } from './types.ts';

export class ConfigInvalid extends Error {
  readonly field: string;
  constructor(field: string, message: string) {
    super(message);
    this.field = field;
  }
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Runs a validating builder, turning a ConfigInvalid into a typed error value. */
export function configured(filter: string, build: () => FilterFactory): ConfigResult<FilterFactory> {
  try {
    return { ok: true, value: build() };
  } catch (e) {
    if (e instanceof ConfigInvalid) {
      const error: FilterConfigError = { filter, field: e.field, message: e.message };
      return { ok: false, error };
    }
    throw e;
  }
}

/** Refuses keys outside `allowed` (a typo must not silently disable a setting). */
export function onlyKeys(field: string, v: Record<string, unknown>, allowed: readonly string[]): void {
  for (const k of Object.keys(v))
    if (!allowed.includes(k))
      throw new ConfigInvalid(field === '' ? k : `${field}.${k}`, `unknown field "${k}"`);
}

export function optionalRecord(field: string, v: unknown): Record<string, unknown> {
  if (v === undefined || v === null) return {};
  if (!isRecord(v)) throw new ConfigInvalid(field, 'must be an object');
  return v;
}

export function optionalNumber(field: string, v: unknown, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max)
    throw new ConfigInvalid(field, `must be a number in [${min}, ${max}]`);
  return v;
}

export function optionalBoolean(field: string, v: unknown): boolean | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') throw new ConfigInvalid(field, 'must be a boolean');
  return v;
}

function headerList(field: string, v: unknown): { name: string; value: string }[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v)) throw new ConfigInvalid(field, 'must be a list');
  return v.map((h, i) => {
    const f = `${field}[${i}]`;
    if (!isRecord(h) || typeof h.name !== 'string' || typeof h.value !== 'string')
      throw new ConfigInvalid(f, 'must be { name, value } strings');
    const name = h.name.toLowerCase();
    if (!isValidHeaderName(name))
      throw new ConfigInvalid(`${f}.name`, `invalid header name ${JSON.stringify(h.name)}`);
    if (PROTECTED_HEADERS.has(name))
      throw new ConfigInvalid(`${f}.name`, `header "${name}" cannot be modified`);
    if (!isValidHeaderValue(h.value)) throw new ConfigInvalid(`${f}.value`, 'header value has CR, LF or NUL');
    return { name, value: h.value };
  });
}

/** Validates a HeaderModifier ({ set, add, remove }). */
export function headerModifier(field: string, v: unknown): HeaderModifier | undefined {
  if (v === undefined) return undefined;
  if (!isRecord(v)) throw new ConfigInvalid(field, 'must be an object');
  onlyKeys(field, v, ['set', 'add', 'remove']);
  const set = headerList(`${field}.set`, v.set);
  const add = headerList(`${field}.add`, v.add);
  let remove: string[] | undefined;
  if (v.remove !== undefined) {
    if (!Array.isArray(v.remove)) throw new ConfigInvalid(`${field}.remove`, 'must be a list of names');
    remove = v.remove.map((n, i) => {
      if (typeof n !== 'string' || !isValidHeaderName(n.toLowerCase()))
        throw new ConfigInvalid(`${field}.remove[${i}]`, 'invalid header name');
      if (PROTECTED_HEADERS.has(n.toLowerCase()))
        throw new ConfigInvalid(`${field}.remove[${i}]`, `header "${n}" cannot be modified`);
      return n.toLowerCase();
    });
  }
  return { ...(set ? { set } : {}), ...(add ? { add } : {}), ...(remove ? { remove } : {}) };
}

/** For filters without settings: accept undefined or {}. */
export function noConfig(filter: string, v: unknown): void {
  const r = optionalRecord('', v);
  onlyKeys('', r, []);
  void filter;
}
