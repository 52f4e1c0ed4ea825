// Kubernetes authentication: service-account JWTs are checked by the API server's TokenReview
// (POST /apis/authentication.k8s.io/v1/tokenreviews) with the CA's audiences.
import { createHash } from 'node:crypto';
import { AuthenticationV1Api, KubeConfig, type V1TokenReview } from '@kubernetes/client-node';
import { type Clock, systemClock } from '@weft/telemetry';
import { fail, ok, type Result } from '../errors.ts';
import { type CallerIdentity, clip, isValidName } from '../identity.ts';
import type { Authenticator } from '../server/authenticator.ts';

/** TokenReview user.extra key carrying the pod's node (bound tokens, Kubernetes 1.30+). */
export const NODE_NAME_EXTRA = 'authentication.kubernetes.io/node-name';

/** The one API call this authenticator makes (tests may pass a stand-in). */
export interface TokenReviewApi {
  createTokenReview(param: { body: V1TokenReview }): Promise<V1TokenReview>;
}

export interface TokenReviewAuthenticatorOptions {
  /** Audiences the token must carry (e.g. ["weft-ca"]); the API server checks, we check its answer. */
  readonly audiences: readonly string[];
  /** Default: `KubeConfig.loadFromDefault()` (in-cluster or ~/.kube/config). */
  readonly kubeConfig?: KubeConfig;
  readonly api?: TokenReviewApi;
  /** Accepted tokens are remembered this long. Default 30 s; 0 disables. */
  readonly cacheTtlMs?: number;
  readonly cacheSize?: number;
  /** Default 5 s. */
  readonly timeoutMs?: number;
  readonly clock?: Clock;
}

const SA_PREFIX = 'system:serviceaccount:';

/** Maps a TokenReview answer to a caller identity (pure; table-tested). */
export function identityFromTokenReview(
  review: V1TokenReview | undefined,
  audiences: readonly string[],
): Result<CallerIdentity> {
  const st = review?.status;
  if (!st?.authenticated) {
    const why = st?.error ? `: ${clip(st.error, 200)}` : '';
    return fail('unauthenticated', 'bad-token', `token rejected by TokenReview${why}`);
  }
  if (audiences.length > 0 && !(st.audiences ?? []).some((a) => audiences.includes(a))) {
    return fail(
      'unauthenticated',
      'bad-token',
      `token audiences [${(st.audiences ?? []).map((a) => clip(a)).join(', ')}] do not include ${audiences.join(' or ')}`,
    );
  }
  const username = st.user?.username ?? '';
  if (!username.startsWith(SA_PREFIX)) {
    return fail('unauthenticated', 'bad-token', `"${clip(username)}" is not a service account`);
  }
  const [namespace = '', serviceAccount = '', ...rest] = username.slice(SA_PREFIX.length).split(':');
  if (rest.length > 0 || !isValidName(namespace) || !isValidName(serviceAccount)) {
    return fail('unauthenticated', 'bad-token', `service account name "${clip(username)}" is not valid`);
  }
  const node = st.user?.extra?.[NODE_NAME_EXTRA]?.[0];
  if (node !== undefined && isValidName(node)) return ok({ namespace, serviceAccount, node });
  return ok({ namespace, serviceAccount });
}

export function createTokenReviewAuthenticator(opts: TokenReviewAuthenticatorOptions): Authenticator {
  const api =
    opts.api ??
    (() => {
      const kc = opts.kubeConfig ?? new KubeConfig();
      if (!opts.kubeConfig) kc.loadFromDefault();
      return kc.makeApiClient(AuthenticationV1Api);
    })();
  const clock = opts.clock ?? systemClock;
  const ttl = opts.cacheTtlMs ?? 30_000;
  const maxEntries = opts.cacheSize ?? 4096;
  const timeoutMs = opts.timeoutMs ?? 5000;
  const cache = new Map<string, { identity: CallerIdentity; expires: number }>();

  return {
    name: 'kubernetes-token-review',
    async authenticate(token) {
      const key = createHash('sha256').update(token).digest('hex');
      const hit = cache.get(key);
      if (hit && hit.expires > clock.now()) return ok(hit.identity);
      if (hit) cache.delete(key);

      let review: V1TokenReview;
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        review = await Promise.race([
          api.createTokenReview({
            body: {
              apiVersion: 'authentication.k8s.io/v1',
              kind: 'TokenReview',
              spec: { token, audiences: [...opts.audiences] },
            },
          }),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`no answer in ${timeoutMs} ms`)), timeoutMs);
          }),
        ]);
      } catch (err) {
        const code = (err as { code?: unknown }).code;
        const detail =
          typeof code === 'number' ? `HTTP ${code}` : clip((err as Error).message ?? String(err), 200);
        return fail('unavailable', 'authenticator-unavailable', `TokenReview call failed (${detail})`);
      } finally {
        clearTimeout(timer);
      }
      const result = identityFromTokenReview(review, opts.audiences);
      if (result.ok && ttl > 0) {
        if (cache.size >= maxEntries) {
          const oldest = cache.keys().next();
          if (!oldest.done) cache.delete(oldest.value);
        }
        cache.set(key, { identity: result.value, expires: clock.now() + ttl });
      }
      return result;
    },
  };
}
