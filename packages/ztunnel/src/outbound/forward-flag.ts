// Parses `--forward <port>=<source ip>><host:port>`: local mode's fixed forwarding listeners.
import { isIp, normalizeIp } from '@weft/policy/runtime';
import type { OutboundTarget } from '@weft/proxy-core';

export interface ParsedForward {
  readonly port: number;
  readonly sourceIp: string;
  readonly target: OutboundTarget;
}

const HOSTNAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/i;

function port(text: string): number | undefined {
  if (!/^\d{1,5}$/.test(text)) return undefined;
  const n = Number(text);
  return n >= 1 && n <= 65535 ? n : undefined;
}

export function parseForward(
  spec: string,
): { ok: true; value: ParsedForward } | { ok: false; error: string } {
  const m = /^(\d+)=([^>]+)>(.+):(\d+)$/.exec(spec.trim());
  if (m === null) return { ok: false, error: 'expected <port>=<source ip>><host:port>' };
  const [, listen = '', source = '', host = '', targetPort = ''] = m;
  const listenPort = port(listen);
  if (listenPort === undefined) return { ok: false, error: `listen port ${listen} is not 1-65535` };
  const sourceIp = normalizeIp(source);
  if (sourceIp === undefined) return { ok: false, error: `source ${source} is not an IP address` };
  const p = port(targetPort);
  if (p === undefined) return { ok: false, error: `target port ${targetPort} is not 1-65535` };
  const bare = host.replace(/^\[(.*)\]$/, '$1');
  if (isIp(bare)) {
    return {
      ok: true,
      value: {
        port: listenPort,
        sourceIp,
        target: { kind: 'address', ip: normalizeIp(bare) ?? bare, port: p },
      },
    };
  }
  if (!HOSTNAME.test(host) || host.length > 253)
    return { ok: false, error: `target host ${host} is not an IP or hostname` };
  return {
    ok: true,
    value: {
      port: listenPort,
      sourceIp,
      target: { kind: 'hostname', hostname: host.toLowerCase(), port: p },
    },
  };
}
