import { describe, expect, it } from 'vitest';
import {
  DeltaDiscoveryResponse,
  DiscoveryResponse,
  Resource,
} from './gen/envoy/service/discovery/v3/discovery.ts';
import { Any } from './gen/google/protobuf/any.ts';
import { createResource } from './resource.ts';
import {
  decodeDeltaResponse,
  encodeAny,
  encodeDeltaResourceBlock,
  encodeDeltaResponse,
  encodeDeltaResponseWithBlock,
  encodeSotwResponse,
  resourceValue,
  type WireResource,
} from './wire.ts';

const T = 'type.googleapis.com/weft.v1.Workload';
const bytes = (n: number) => Uint8Array.from({ length: n }, (_, i) => i % 251);

describe('hand-framed messages decode with the generated decoders', () => {
  it.each([0, 1, 127, 128, 300, 70_000])('Any with a %i-byte value', (n) => {
    const any = Any.decode(encodeAny(T, bytes(n)));
    expect(any.typeUrl).toBe(T);
    expect([...any.value]).toEqual([...bytes(n)]);
  });

  it('delta Resource', () => {
    const r = createResource(T, 'ns/name', bytes(10), 'v9');
    expect(Resource.decode(r.deltaResource)).toMatchObject({
      name: 'ns/name',
      version: 'v9',
      resource: { typeUrl: T },
    });
  });

  it('state-of-the-world and delta responses', () => {
    const a = createResource(T, 'a', bytes(3), '1');
    const b = createResource(T, 'b', bytes(200), '2');
    const sotw = DiscoveryResponse.decode(encodeSotwResponse('7', T, 'n1', [a.any, b.any]));
    expect(sotw).toMatchObject({ versionInfo: '7', typeUrl: T, nonce: 'n1' });
    expect(sotw.resources.map((x) => x.value.length)).toEqual([3, 200]);
    const delta = DeltaDiscoveryResponse.decode(
      encodeDeltaResponse('7', T, 'n2', [a.deltaResource, b.deltaResource], ['gone']),
    );
    expect(delta).toMatchObject({
      systemVersionInfo: '7',
      typeUrl: T,
      nonce: 'n2',
      removedResources: ['gone'],
    });
    expect(delta.resources.map((r) => r.name)).toEqual(['a', 'b']);
    const block = encodeDeltaResourceBlock([a.deltaResource, b.deltaResource]);
    const withBlock = DeltaDiscoveryResponse.decode(encodeDeltaResponseWithBlock('8', T, 'n3', block));
    expect(withBlock.resources.map((r) => `${r.name}@${r.version}`)).toEqual(['a@1', 'b@2']);
  });
});

describe('decodeDeltaResponse (the client reader)', () => {
  it('reads what the generated encoder writes, skipping fields it does not use', () => {
    const encoded = DeltaDiscoveryResponse.encode(
      DeltaDiscoveryResponse.fromPartial({
        systemVersionInfo: 's1',
        typeUrl: T,
        nonce: 'n',
        controlPlane: { identifier: 'weftd' },
        removedResources: ['x'],
        removedResourceNames: [{ name: 'y' }],
        resources: [
          { name: 'a', version: '1', aliases: ['alias'], resource: { typeUrl: T, value: bytes(5) } },
          { name: 'heartbeat', version: '2' },
        ],
      }),
    ).finish();
    const r = decodeDeltaResponse(encoded);
    expect(r).toMatchObject({
      systemVersionInfo: 's1',
      typeUrl: T,
      nonce: 'n',
      removedResources: ['x', 'y'],
    });
    expect(r.resources[0]).toMatchObject({ name: 'a', version: '1', typeUrl: T });
    expect([...(resourceValue(r, r.resources[0] as WireResource) ?? [])]).toEqual([...bytes(5)]);
    expect(r.resources[1]).toEqual({
      name: 'heartbeat',
      version: '2',
      typeUrl: undefined,
      valueStart: -1,
      valueEnd: -1,
    });
    expect(resourceValue(r, r.resources[1] as WireResource)).toBeUndefined();
  });

  it.each([
    ['truncated length', [0x12, 0x05, 0x1a]],
    ['bad wire type', [0x17]],
    ['varint overflow', [0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]],
  ])('throws on %s', (_name, input) => {
    expect(() => decodeDeltaResponse(new Uint8Array(input))).toThrow();
  });
});
