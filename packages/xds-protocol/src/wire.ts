import { bytesEqualString, utf8String, WireReader } from './wire-reader.ts';

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
  /** Any.value is `bytes[valueStart, valueEnd)` of the response; both -1 without a body. */
  valueStart: number;
  valueEnd: number;
}

export interface WireDeltaResponse {
  /** The encoded response the resources' values point into. */
  bytes: Uint8Array;
  systemVersionInfo: string;
  typeUrl: string;
  nonce: string;
  resources: WireResource[];
  removedResources: string[];
}

/** A resource's Any.value as a view (a copy-free `subarray`), or undefined without a body. */
export function resourceValue(res: WireDeltaResponse, r: WireResource): Uint8Array | undefined {
  return r.valueStart < 0 ? undefined : res.bytes.subarray(r.valueStart, r.valueEnd);
}

/** A tag with BinaryReader.tag()'s checks, as one number (no array per field). */
function checkedTag(r: WireReader): number {
  const start = r.pos;
  const tag = r.uint32();
  const read = r.pos - start;
  if (read > 5 || (read === 5 && (r.buf[r.pos - 1] as number) > 0x0f)) {
    throw new Error('illegal tag: varint overflows uint32');
  }
  if (tag >>> 3 <= 0 || (tag & 7) > 5)
    throw new Error(`illegal tag: field no ${tag >>> 3} wire type ${tag & 7}`);
  return tag;
}

/**
 * Reads a DeltaDiscoveryResponse keeping only what a client acts on (the generated decoder
 * builds a full Resource + Any object per entry; this builds one small record, and leaves each
 * value in place for the type's decoder). Throws on malformed input, like the generated decoders.
 */
export function decodeDeltaResponse(bytes: Uint8Array): WireDeltaResponse {
  const r = new WireReader(bytes, 0, bytes.length);
  const out: WireDeltaResponse = {
    bytes,
    systemVersionInfo: '',
    typeUrl: '',
    nonce: '',
    resources: [],
    removedResources: [],
  };
  while (r.pos < r.end) {
    const tag = checkedTag(r);
    if (tag === 10) out.systemVersionInfo = r.string();
    else if (tag === 18) {
      const start = r.span();
      out.resources.push(readResource(r, start, r.pos, out));
    } else if (tag === 34) out.typeUrl = r.string();
    else if (tag === 42) out.nonce = r.string();
    else if (tag === 50) out.removedResources.push(r.string());
    else if (tag === 66) {
      // removed_resource_names: ResourceName { name = 1; ... }
      const first = r.span();
      const stop = r.pos;
      r.pos = first;
      while (r.pos < stop) {
        const t = checkedTag(r);
        if (t === 10) out.removedResources.push(r.string());
        else r.skip(t & 7, t >>> 3);
      }
    } else r.skip(tag & 7, tag >>> 3);
  }
  return out;
}

/**
 * Every resource of a response repeats one type URL: the response's own (or the previous
 * resource's) string is reused when the bytes match.
 */
function typeUrlAt(r: WireReader, start: number, res: WireDeltaResponse, prev: string | undefined): string {
  if (bytesEqualString(r.buf, start, r.pos, res.typeUrl)) return res.typeUrl;
  if (prev !== undefined && bytesEqualString(r.buf, start, r.pos, prev)) return prev;
  return utf8String(r.buf, start, r.pos);
}

function readResource(r: WireReader, start: number, end: number, res: WireDeltaResponse): WireResource {
  const out: WireResource = { name: '', version: '', typeUrl: undefined, valueStart: -1, valueEnd: -1 };
  const outer = r.end;
  r.pos = start;
  r.end = end;
  while (r.pos < end) {
    const tag = checkedTag(r);
    if (tag === 10) out.version = r.string();
    else if (tag === 26) out.name = r.string();
    else if (tag === 18) {
      const anyStart = r.span();
      const anyEnd = r.pos;
      r.pos = anyStart;
      out.typeUrl = '';
      out.valueStart = anyStart;
      out.valueEnd = anyStart;
      while (r.pos < anyEnd) {
        const t = checkedTag(r);
        if (t === 10) {
          const s = r.span();
          out.typeUrl = typeUrlAt(r, s, res, res.resources[res.resources.length - 1]?.typeUrl);
        } else if (t === 18) {
          out.valueStart = r.span();
          out.valueEnd = r.pos;
        } else r.skip(t & 7, t >>> 3);
      }
      if (r.pos !== anyEnd) throw new Error('resource body overruns its length');
    } else r.skip(tag & 7, tag >>> 3);
  }
  if (r.pos !== end) throw new Error('resource overruns its length');
  r.end = outer;
  return out;
}
