// Path rewriting as the route model defines it.
import type { PathMatch, PathRewrite } from './types.ts';

/**
 * The upstream path after a rewrite (or the redirect path). `path` is the normalized request
 * path; `matched` the path match of the rule that matched (needed for prefix replacement: when
 * the rule did not match by prefix, a prefix rewrite replaces the whole path).
 */
export function rewritePath(path: string, rewrite: PathRewrite, matched: PathMatch | undefined): string {
  switch (rewrite.type) {
    case 'full':
      return rewrite.value;
    case 'prefix': {
      if (!matched || (matched.type !== 'path-prefix' && matched.type !== 'prefix')) return rewrite.value;
      if (matched.type === 'prefix') return rewrite.value + path.slice(matched.value.length);
      // Gateway API ReplacePrefixMatch works on path elements.
      const prefix = matched.value.endsWith('/') ? matched.value.slice(0, -1) : matched.value;
      const rest = path.slice(prefix.length);
      const base = rewrite.value.endsWith('/') ? rewrite.value.slice(0, -1) : rewrite.value;
      const out = base + rest;
      return out === '' ? '/' : out.startsWith('/') ? out : `/${out}`;
    }
    case 'regex': {
      // RE2-style "\1" references become JavaScript "$1"; literal "$" is escaped.
      const substitution = rewrite.substitution.replace(/\$/g, '$$$$').replace(/\\(\d)/g, '$$$1');
      return path.replace(new RegExp(rewrite.pattern, 'gu'), substitution);
    }
    default: {
      const never: never = rewrite;
      return never;
    }
  }
}
