// gRPC method definitions of envoy.service.discovery.v3.AggregatedDiscoveryService, built on the
// generated encode/decode. Responses the server writes are already-encoded bytes (see wire.ts);
// requests that fail to decode become a value, never an exception inside grpc-js.
import type * as grpc from '@grpc/grpc-js';
import {
  DeltaDiscoveryRequest,
  DiscoveryRequest,
  DiscoveryResponse,
} from './gen/envoy/service/discovery/v3/discovery.ts';
import { decodeDeltaResponse } from './wire.ts';

export const ADS_SERVICE_NAME = 'envoy.service.discovery.v3.AggregatedDiscoveryService';
export const SOTW_METHOD_PATH = `/${ADS_SERVICE_NAME}/StreamAggregatedResources`;
export const DELTA_METHOD_PATH = `/${ADS_SERVICE_NAME}/DeltaAggregatedResources`;

/** A request message as the server sees it: decoded, or the reason it could not be. */
export type Decoded<T> = { ok: true; message: T } | { ok: false; error: string };

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function safeDecode<T>(decode: (b: Uint8Array) => T): (b: Buffer) => Decoded<T> {
  return (b) => {
    try {
      return { ok: true, message: decode(b) };
    } catch (err) {
      return { ok: false, error: err instanceof Error ? err.message : String(err) };
    }
  };
}

/** Server side: requests decoded to values, responses passed through as encoded bytes. */
export const adsServerDefinition = {
  StreamAggregatedResources: {
    path: SOTW_METHOD_PATH,
    requestStream: true,
    responseStream: true,
    requestSerialize: (m: Decoded<DiscoveryRequest>) =>
      toBuffer(m.ok ? DiscoveryRequest.encode(m.message).finish() : new Uint8Array()),
    requestDeserialize: safeDecode((b) => DiscoveryRequest.decode(b)),
    responseSerialize: toBuffer,
    responseDeserialize: (b: Buffer): Uint8Array => b,
  },
  DeltaAggregatedResources: {
    path: DELTA_METHOD_PATH,
    requestStream: true,
    responseStream: true,
    requestSerialize: (m: Decoded<DeltaDiscoveryRequest>) =>
      toBuffer(m.ok ? DeltaDiscoveryRequest.encode(m.message).finish() : new Uint8Array()),
    requestDeserialize: safeDecode((b) => DeltaDiscoveryRequest.decode(b)),
    responseSerialize: toBuffer,
    responseDeserialize: (b: Buffer): Uint8Array => b,
  },
} satisfies grpc.ServiceDefinition;

/** Client side of the delta method: requests encoded, responses read lean (or the decode error). */
export const deltaClientMethod = {
  path: DELTA_METHOD_PATH,
  serialize: (m: DeltaDiscoveryRequest): Buffer => toBuffer(DeltaDiscoveryRequest.encode(m).finish()),
  // A plain Uint8Array view: sub-views of it are cheaper to make than Buffer slices.
  deserialize: safeDecode((b) => decodeDeltaResponse(new Uint8Array(b.buffer, b.byteOffset, b.byteLength))),
};

/** Client side of the state-of-the-world method (tests and tools). */
export const sotwClientMethod = {
  path: SOTW_METHOD_PATH,
  serialize: (m: DiscoveryRequest): Buffer => toBuffer(DiscoveryRequest.encode(m).finish()),
  deserialize: safeDecode((b) => DiscoveryResponse.decode(b)),
};
