// The plugin's HTTP client for the agent's unix socket. Transport failures (no socket, refused,
// timeout, an answer too large) come back as values, never thrown.

import { request } from 'node:http';
import { MAX_BODY_BYTES } from './messages.ts';

export type PostResult =
  | { readonly ok: true; readonly status: number; readonly body: string }
  | { readonly ok: false; readonly unreachable: string };

export interface AgentTransport {
  post(socketPath: string, path: string, body: unknown, timeoutMs: number): Promise<PostResult>;
}

export const httpAgentTransport: AgentTransport = {
  post(socketPath, path, body, timeoutMs) {
    return new Promise((resolve) => {
      let settled = false;
      const done = (r: PostResult) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(r);
      };
      const payload = JSON.stringify(body);
      const req = request(
        {
          socketPath,
          path,
          method: 'POST',
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('error', (err) => done({ ok: false, unreachable: err.message }));
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > MAX_BODY_BYTES) {
              req.destroy();
              done({ ok: false, unreachable: `answer larger than ${MAX_BODY_BYTES} bytes` });
              return;
            }
            chunks.push(chunk);
          });
          res.on('end', () =>
            done({ ok: true, status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
          );
        },
      );
      const timer = setTimeout(() => {
        req.destroy();
        done({ ok: false, unreachable: `no answer within ${timeoutMs} ms` });
      }, timeoutMs);
      req.on('error', (err: NodeJS.ErrnoException) =>
        done({ ok: false, unreachable: err.code ?? err.message }),
      );
      req.end(payload);
    });
  },
};
