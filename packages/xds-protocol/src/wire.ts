// Hand-framed protobuf messages built from pre-encoded parts. A resource is serialised once
// (CachedResource) and its bytes are copied into every response that carries it; only the few
// per-response header fields are encoded per client. Field numbers follow
// envoy/service/discovery/v3/discovery.proto and google/protobuf/any.proto.

const encoder = new TextEncoder();

function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

function writeVarint(buf: Uint8Array, pos: number, n: number): number {
  while (n >= 0x80) {
    buf[pos++] = (n & 0x7f) | 0x80;
    n = Math.floor(n / 128);
  }
  buf[pos++] = n;
  return pos;
}

/** A length-delimited field: tag, length, payload. */
interface Field {
  tag: number;
  bytes: Uint8Array;
}

function fieldSize(f: Field): number {
  return varintSize(f.tag) + varintSize(f.bytes.length) + f.bytes.length;
}

function writeField(buf: Uint8Array, pos: number, f: Field): number {
  pos = writeVarint(buf, pos, f.tag);
  pos = writeVarint(buf, pos, f.bytes.length);
  buf.set(f.bytes, pos);
  return pos + f.bytes.length;
}

function tagOf(fieldNumber: number): number {
  return (fieldNumber << 3) | 2;
}

function concatFields(fields: readonly Field[]): Uint8Array {
  let size = 0;
  for (const f of fields) size += fieldSize(f);
  const out = new Uint8Array(size);
  let pos = 0;
  for (const f of fields) pos = writeField(out, pos, f);
  return out;
}

function str(fieldNumber: number, s: string): Field[] {
  return s === '' ? [] : [{ tag: tagOf(fieldNumber), bytes: encoder.encode(s) }];
}

/** google.protobuf.Any { type_url = 1; value = 2 }. */
export function encodeAny(typeUrl: string, value: Uint8Array): Uint8Array {
  return concatFields([...str(1, typeUrl), { tag: tagOf(2), bytes: value }]);
}

/** envoy.service.discovery.v3.Resource { version = 1; resource = 2 (Any); name = 3 }. */
export function encodeDeltaResource(name: string, version: string, any: Uint8Array): Uint8Array {
  return concatFields([...str(1, version), { tag: tagOf(2), bytes: any }, ...str(3, name)]);
}

/** DiscoveryResponse { version_info = 1; resources = 2 (Any); type_url = 4; nonce = 5 }. */
export function encodeSotwResponse(
  versionInfo: string,
  typeUrl: string,
  nonce: string,
  anys: readonly Uint8Array[],
): Uint8Array {
  const fields: Field[] = [...str(1, versionInfo), ...str(4, typeUrl), ...str(5, nonce)];
  for (const a of anys) fields.push({ tag: tagOf(2), bytes: a });
  return concatFields(fields);
}

/**
 * DeltaDiscoveryResponse { system_version_info = 1; resources = 2 (Resource); type_url = 4;
 * nonce = 5; removed_resources = 6 }.
 */
export function encodeDeltaResponse(
  systemVersion: string,
  typeUrl: string,
  nonce: string,
  resources: readonly Uint8Array[],
  removed: readonly string[],
): Uint8Array {
  const fields: Field[] = [...str(1, systemVersion), ...str(4, typeUrl), ...str(5, nonce)];
  for (const r of resources) fields.push({ tag: tagOf(2), bytes: r });
  for (const name of removed) fields.push({ tag: tagOf(6), bytes: encoder.encode(name) });
  return concatFields(fields);
}
