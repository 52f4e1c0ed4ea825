// Validation and compile problems are values: each names the object and the field.

export type ValidationErrorCode =
  /** The object breaks its schema; it was rejected. */
  | 'invalid'
  /** apiVersion/kind is not one the mesh reads; the object was ignored. */
  | 'unknown-kind'
  /** Another object with the same kind/namespace/name came first; this one was ignored. */
  | 'duplicate'
  /** A reference (service, gateway, waypoint, subset) does not resolve; the rest still applies. */
  | 'unresolved-reference'
  /** Two objects claim the same thing; the one that lost is named. */
  | 'conflict'
  /** The object is valid but has no effect in Weft (e.g. a route attached to an ingress Gateway). */
  | 'ignored';

export interface ValidationIssue {
  /** Field path such as `spec.rules[0].to[0].operation.paths[1]`; empty for the whole object. */
  readonly path: string;
  readonly message: string;
}

export interface ValidationError {
  readonly code: ValidationErrorCode;
  readonly apiVersion: string | undefined;
  readonly kind: string | undefined;
  readonly namespace: string | undefined;
  readonly name: string | undefined;
  /** The first issue's path (most errors have exactly one issue). */
  readonly path: string;
  /** The first issue's message. */
  readonly message: string;
  /** All issues found in the object. */
  readonly issues: readonly ValidationIssue[];
}

export interface ObjectRef {
  readonly apiVersion?: string | undefined;
  readonly kind?: string | undefined;
  readonly namespace?: string | undefined;
  readonly name?: string | undefined;
}

export function validationError(
  code: ValidationErrorCode,
  ref: ObjectRef,
  issues: readonly ValidationIssue[],
): ValidationError {
  const first = issues[0] ?? { path: '', message: code };
  return Object.freeze({
    code,
    apiVersion: ref.apiVersion,
    kind: ref.kind,
    namespace: ref.namespace,
    name: ref.name,
    path: first.path,
    message: first.message,
    issues: Object.freeze(issues.map((i) => Object.freeze({ ...i }))),
  });
}

/** One line: `AuthorizationPolicy ns/name: spec.rules[0]...: message`. */
export function formatValidationError(error: ValidationError): string {
  const who = `${error.kind ?? '<no kind>'} ${error.namespace ? `${error.namespace}/` : ''}${error.name ?? '<no name>'}`;
  return `${who}: ${error.path ? `${error.path}: ` : ''}${error.message}`;
}

/** Formats a zod-style path: ["spec","rules",0,"to"] -> "spec.rules[0].to". */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else {
      const key = String(part);
      if (/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key)) out += out === '' ? key : `.${key}`;
      else out += `[${JSON.stringify(key)}]`;
    }
  }
  return out;
}
