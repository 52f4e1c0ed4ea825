// Envoy's Upstream/DownstreamTlsContext as bytes (the generated Envoy subset in
// @weft/xds-protocol does not carry the TLS extension messages): a few fields, hand-encoded.
import { CERT_PROVIDER_INSTANCE } from '../bootstrap/bootstrap.ts';

const utf8 = new TextEncoder();

function varint(n: number): number[] {
  const out: number[] = [];
  let v = n;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}

function bytesField(no: number, payload: Uint8Array): Uint8Array {
  return Uint8Array.from([...varint((no << 3) | 2), ...varint(payload.length), ...payload]);
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let i = 0;
  for (const p of parts) {
    out.set(p, i);
    i += p.length;
  }
  return out;
}

const str = (no: number, s: string): Uint8Array => bytesField(no, utf8.encode(s));
const boolValue = (no: number, b: boolean): Uint8Array =>
  bytesField(no, b ? Uint8Array.from([0x08, 0x01]) : new Uint8Array());

/** CommonTlsContext: identity and roots from certificate provider `instance`, SAN matchers (exact). */
function commonTlsContext(instance: string, exactSans: readonly string[]): Uint8Array {
  const providerInstance = str(1, instance); // CertificateProviderPluginInstance.instance_name
  const validation = concat(
    bytesField(13, providerInstance), // ca_certificate_provider_instance
    ...exactSans.map((san) => bytesField(9, str(1, san))), // match_subject_alt_names { exact }
  );
  return concat(
    bytesField(14, providerInstance), // tls_certificate_provider_instance
    bytesField(8, bytesField(1, validation)), // combined_validation_context.default_validation_context
  );
}

export const UPSTREAM_TLS_CONTEXT_TYPE =
  'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext';
export const DOWNSTREAM_TLS_CONTEXT_TYPE =
  'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext';

export function upstreamTlsContext(
  exactSans: readonly string[],
  instance = CERT_PROVIDER_INSTANCE,
): Uint8Array {
  return bytesField(1, commonTlsContext(instance, exactSans));
}

export function downstreamTlsContext(
  requireClientCertificate: boolean,
  instance = CERT_PROVIDER_INSTANCE,
): Uint8Array {
  return concat(bytesField(1, commonTlsContext(instance, [])), boolValue(2, requireClientCertificate));
}
