// weft.v1.Workload decoded in place from a response buffer: the one resource kind a full sync
// carries by the ten thousand. It returns what the generated `Workload.decode` returns for the
// same bytes (same fields, same defaults, the same inputs rejected; a differential fuzz test
// holds it to that) but reads through WireReader: no reader, view or array per string, and
// repeated strings come from the client's StringTable. The rare nested messages (waypoint,
// container ports, per-port mTLS modes) go through the generated decoders.
import { BinaryReader } from '@bufbuild/protobuf/wire';
import { WaypointRef } from './gen/weft/v1/common.ts';
import { ContainerPort, type Workload, Workload_PortMtlsModesEntry } from './gen/weft/v1/workload.ts';
import { bytesEqualString, type StringTable, utf8String, WireReader } from './wire-reader.ts';

/** What the generated decoders keep on a reader to bound their recursion. */
interface DepthReader extends BinaryReader {
  __tsProtoDecodeDepth?: number;
}

/**
 * Runs a generated nested decoder at the reader's position, over the same bytes the generated
 * `Workload.decode` would see (`buf[start, end)`), one level deep as it would be.
 */
function nested<T>(r: WireReader, start: number, decode: (reader: BinaryReader, length: number) => T): T {
  const reader = new BinaryReader(r.buf.subarray(start, r.end)) as DepthReader;
  reader.pos = r.pos - start;
  reader.__tsProtoDecodeDepth = 1;
  const value = decode(reader, reader.uint32());
  r.pos = reader.pos + start;
  return value;
}

/**
 * Decodes the Workload in `buf[start, end)`. `name`, when given, is the resource name the
 * envelope carried: a uid with the same bytes reuses that string. Throws on malformed input.
 */
export function decodeWorkloadAt(
  buf: Uint8Array,
  start: number,
  end: number,
  strings?: StringTable,
  name?: string,
): Workload {
  const r = new WireReader(buf, start, end, strings);
  const message: Workload = {
    uid: '',
    name: '',
    namespace: '',
    node: '',
    addresses: [],
    network: '',
    serviceAccount: '',
    trustDomain: '',
    identity: '',
    dataPlaneMode: 0,
    tunnelProtocol: 0,
    waypoint: undefined,
    labels: {},
    workloadName: '',
    canonicalName: '',
    canonicalRevision: '',
    clusterId: '',
    status: 0,
    containerPorts: [],
    services: [],
    authorizationPolicies: [],
    mtlsMode: 0,
    portMtlsModes: {},
  };
  while (r.pos < end) {
    const tag = r.uint32();
    switch (tag) {
      case 10: {
        const s = r.span();
        message.uid =
          name !== undefined && bytesEqualString(buf, s, r.pos, name) ? name : utf8String(buf, s, r.pos);
        continue;
      }
      case 18:
        message.name = r.sharedString();
        continue;
      case 26:
        message.namespace = r.sharedString();
        continue;
      case 34:
        message.node = r.sharedString();
        continue;
      case 42:
        message.addresses.push(r.ownBytes());
        continue;
      case 50:
        message.network = r.sharedString();
        continue;
      case 58:
        message.serviceAccount = r.sharedString();
        continue;
      case 66:
        message.trustDomain = r.sharedString();
        continue;
      case 74:
        message.identity = r.sharedString();
        continue;
      case 80:
        message.dataPlaneMode = r.int32() as Workload['dataPlaneMode'];
        continue;
      case 88:
        message.tunnelProtocol = r.int32() as Workload['tunnelProtocol'];
        continue;
      case 98:
        message.waypoint = nested(r, start, (reader, length) => WaypointRef.decode(reader, length));
        continue;
      case 106: {
        // map<string, string> entry { key = 1; value = 2 }, read like Workload_LabelsEntry.decode.
        const entryEnd = r.uint32() + r.pos;
        let key = '';
        let value = '';
        while (r.pos < entryEnd) {
          const t = r.uint32();
          if (t === 10) key = r.sharedString();
          else if (t === 18) value = r.sharedString();
          else if ((t & 7) === 4 || t === 0) break;
          else r.skip(t & 7);
        }
        message.labels[key] = value;
        continue;
      }
      case 114:
        message.workloadName = r.sharedString();
        continue;
      case 122:
        message.canonicalName = r.sharedString();
        continue;
      case 130:
        message.canonicalRevision = r.sharedString();
        continue;
      case 138:
        message.clusterId = r.sharedString();
        continue;
      case 144:
        message.status = r.int32() as Workload['status'];
        continue;
      case 154:
        message.containerPorts.push(
          nested(r, start, (reader, length) => ContainerPort.decode(reader, length)),
        );
        continue;
      case 162:
        message.services.push(r.sharedString());
        continue;
      case 170:
        message.authorizationPolicies.push(r.sharedString());
        continue;
      case 176:
        message.mtlsMode = r.int32() as Workload['mtlsMode'];
        continue;
      case 186: {
        const entry = nested(r, start, (reader, length) =>
          Workload_PortMtlsModesEntry.decode(reader, length),
        );
        message.portMtlsModes[entry.key] = entry.value;
        continue;
      }
    }
    if ((tag & 7) === 4 || tag === 0) break;
    r.skip(tag & 7);
  }
  return message;
}
