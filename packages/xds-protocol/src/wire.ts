import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';

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

/**
 * `resources` entries (field 2) of a DeltaDiscoveryResponse, pre-framed: a block of them can be
 * appended to any response header (protobuf fields may come in any order).
 */
export function encodeDeltaResourceBlock(resources: readonly Uint8Array[]): Uint8Array {
  return concatFields(resources.map((r) => ({ tag: tagOf(2), bytes: r })));
}

/** A DeltaDiscoveryResponse header followed by a pre-framed block of resources. */
export function encodeDeltaResponseWithBlock(
  systemVersion: string,
  typeUrl: string,
  nonce: string,
  block: Uint8Array,
): Uint8Array {
  const header = concatFields([...str(1, systemVersion), ...str(4, typeUrl), ...str(5, nonce)]);
  const out = new Uint8Array(header.length + block.length);
  out.set(header, 0);
  out.set(block, header.length);
  return out;
}

/** One resource of a delta response, without the generated object graph around it. */
export interface WireResource {
  name: string;
  version: string;
  /** Any.type_url, or undefined when the resource carries no body. */
  typeUrl: string | undefined;
  value: Uint8Array | undefined;
}

export interface WireDeltaResponse {
  systemVersionInfo: string;
  typeUrl: string;
  nonce: string;
  resources: WireResource[];
  removedResources: string[];
}

/**
 * Reads a DeltaDiscoveryResponse keeping only what a client acts on (the generated decoder
 * builds a full Resource + Any object per entry; this builds one small record). Resource values
 * are views into `bytes`. Throws on malformed input, like the generated decoders.
 */
export function decodeDeltaResponse(bytes: Uint8Array): WireDeltaResponse {
  const r = new BinaryReader(bytes);
  const out: WireDeltaResponse = {
    systemVersionInfo: '',
    typeUrl: '',
    nonce: '',
    resources: [],
    removedResources: [],
  };
  while (r.pos < r.len) {
    const [no, wt] = r.tag();
    if (no === 1 && wt === WireType.LengthDelimited) out.systemVersionInfo = r.string();
    else if (no === 2 && wt === WireType.LengthDelimited)
      out.resources.push(readResource(r, r.uint32() + r.pos));
    else if (no === 4 && wt === WireType.LengthDelimited) out.typeUrl = r.string();
    else if (no === 5 && wt === WireType.LengthDelimited) out.nonce = r.string();
    else if (no === 6 && wt === WireType.LengthDelimited) out.removedResources.push(r.string());
    else if (no === 8 && wt === WireType.LengthDelimited) {
      // removed_resource_names: ResourceName { name = 1; ... }
      const end = r.uint32() + r.pos;
      while (r.pos < end) {
        const [n, w] = r.tag();
        if (n === 1 && w === WireType.LengthDelimited) out.removedResources.push(r.string());
        else r.skip(w, n);
      }
    } else r.skip(wt, no);
  }
  return out;
}

// Every resource of a response repeats the same type URL: decode it once, then compare bytes.
let lastTypeUrlBytes = new Uint8Array(0);
let lastTypeUrl = '';
const utf8 = new TextDecoder();

function typeUrlString(b: Uint8Array): string {
  if (b.length === lastTypeUrlBytes.length) {
    let same = true;
    for (let i = 0; i < b.length; i++) {
      if (b[i] !== lastTypeUrlBytes[i]) {
        same = false;
        break;
      }
    }
    if (same) return lastTypeUrl;
  }
  lastTypeUrlBytes = b.slice();
  lastTypeUrl = utf8.decode(b);
  return lastTypeUrl;
}

function readResource(r: BinaryReader, end: number): WireResource {
  const res: WireResource = { name: '', version: '', typeUrl: undefined, value: undefined };
  while (r.pos < end) {
    const [no, wt] = r.tag();
    if (no === 1 && wt === WireType.LengthDelimited) res.version = r.string();
    else if (no === 3 && wt === WireType.LengthDelimited) res.name = r.string();
    else if (no === 2 && wt === WireType.LengthDelimited) {
      const anyEnd = r.uint32() + r.pos;
      res.typeUrl = '';
      res.value = new Uint8Array(0);
      while (r.pos < anyEnd) {
        const [n, w] = r.tag();
        if (n === 1 && w === WireType.LengthDelimited) res.typeUrl = typeUrlString(r.bytes());
        else if (n === 2 && w === WireType.LengthDelimited) res.value = r.bytes();
        else r.skip(w, n);
      }
    } else r.skip(wt, no);
  }
  if (r.pos !== end) throw new Error('resource overruns its length');
  return res;
}
