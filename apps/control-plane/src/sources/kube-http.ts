// One JSON GET against the API server, authenticated by the KubeConfig exactly as
// @kubernetes/client-node's own requests are (applyToHTTPSOptions: bearer tokens, exec plugins,
// client certificates, CA bundle, proxies). Used for LIST; client-node has no raw paginated list
// that keeps objects as plain JSON (its typed APIs turn timestamps into Dates and drop unknown
// fields, which would make listed and watched objects differ).
import { request as httpRequest } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';

/** A failed request; `statusCode` is the HTTP status, `reason` the Status reason when the body had one. */
export class KubeRequestError extends Error {
  readonly statusCode: number;
  readonly reason: string | undefined;

  constructor(statusCode: number, message: string, reason?: string) {
    super(message);
    this.name = 'KubeRequestError';
    this.statusCode = statusCode;
    this.reason = reason;
  }
}

export interface GetJsonOptions {
  readonly query?: Readonly<Record<string, string>>;
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

export async function getJson(
  kubeConfig: KubeConfig,
  path: string,
  options: GetJsonOptions = {},
): Promise<unknown> {
  const cluster = kubeConfig.getCurrentCluster();
  if (cluster === null) throw new Error('the kubeconfig has no current cluster');
  const opts: RequestOptions = {};
  await kubeConfig.applyToHTTPSOptions(opts);
  const url = new URL(cluster.server + path);
  for (const [k, v] of Object.entries(options.query ?? {})) url.searchParams.set(k, v);
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(
      url,
      {
        method: 'GET',
        ...(opts.agent !== undefined ? { agent: opts.agent } : {}),
        ...(opts.auth !== undefined && opts.auth !== null ? { auth: opts.auth } : {}),
        headers: { ...(opts.headers ?? {}), accept: 'application/json' },
        ...(options.signal !== undefined ? { signal: options.signal } : {}),
        ...(options.timeoutMs !== undefined ? { timeout: options.timeoutMs } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const status = res.statusCode ?? 0;
          let body: unknown;
          try {
            body = JSON.parse(text);
          } catch {
            body = undefined;
          }
          if (status >= 200 && status < 300) {
            if (body !== undefined) return resolve(body);
            return reject(new KubeRequestError(status, `GET ${path}: the answer is not JSON`));
          }
          const s = (body ?? {}) as { message?: unknown; reason?: unknown };
          const message =
            typeof s.message === 'string' ? s.message : `HTTP ${status} ${res.statusMessage ?? ''}`.trim();
          reject(new KubeRequestError(status, message, typeof s.reason === 'string' ? s.reason : undefined));
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`GET ${path}: no answer within ${options.timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}
