// Where a proxy listens, as its flags give it: "host:port" or "[ipv6]:port"; port 0 picks a free
// one. One parser for every proxy's command line.

export interface ListenAddress {
  readonly host?: string;
  readonly port?: number;
}

export type ListenAddressResult =
  | { readonly ok: true; readonly value: { readonly host: string; readonly port: number } }
  | { readonly ok: false; readonly error: string };

export function parseListenAddress(text: string): ListenAddressResult {
  const i = text.lastIndexOf(':');
  const portText = text.slice(i + 1);
  const port = Number(portText);
  const host = text.slice(0, Math.max(i, 0)).replace(/^\[(.*)\]$/, '$1');
  if (i <= 0 || host === '' || !/^[0-9]{1,5}$/.test(portText) || port > 65535)
    return { ok: false, error: `${JSON.stringify(text)} is not host:port` };
  return { ok: true, value: { host, port } };
}
