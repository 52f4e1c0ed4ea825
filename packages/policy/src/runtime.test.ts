import { describe, expect, it } from 'vitest';
import * as rootModule from './index.ts';
import * as runtimeModule from './runtime.ts';

// Plain copies of both namespaces, so the tests can look names up.
const root: Record<string, unknown> = { ...rootModule };
const runtime: Record<string, unknown> = { ...runtimeModule };

describe('@weft/policy/runtime', () => {
  it('is a subset of the package root: every value it exports is the same one the root exports', () => {
    const names = Object.keys(runtime);
    expect(names.length).toBeGreaterThan(30);
    for (const name of names) {
      expect(root[name], name).toBe(runtime[name]);
    }
  });

  it('leaves schema validation, compile and manifest parsing (zod, yaml) to the root', () => {
    const heavy = [
      'compile',
      'parseManifests',
      'validateObject',
      'jsonSchemas',
      'MESH_KINDS',
      'CONDITION_KEYS',
    ];
    for (const name of heavy) {
      expect(name in runtime, name).toBe(false);
      expect(name in root, name).toBe(true);
    }
  });

  it('carries what a proxy evaluates with', () => {
    for (const name of [
      'authorize',
      'policiesFor',
      'resolvePeerAuthentication',
      'matchRoute',
      'normalizePath',
      'normalizeIp',
      'parseSpiffeId',
      'parseWorkloadId',
      'contentHash',
      'formatValidationError',
    ]) {
      expect(typeof runtime[name], name).toBe('function');
    }
  });
});
