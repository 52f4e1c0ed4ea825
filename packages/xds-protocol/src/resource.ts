import { createHash } from 'node:crypto';
import { encodeAny, encodeDeltaResource } from './wire.ts';

/**
 * One resource, serialised once. `value` is the encoded message; the Any and delta `Resource`
 * wrappers are built on first use and shared by every stream (and every cache) that sends it.
 */
export class CachedResource {
  readonly typeUrl: string;
  readonly name: string;
  readonly version: string;
  readonly value: Uint8Array;
  #any: Uint8Array | undefined;
  #delta: Uint8Array | undefined;

  constructor(typeUrl: string, name: string, value: Uint8Array, version: string) {
    this.typeUrl = typeUrl;
    this.name = name;
    this.value = value;
    this.version = version;
  }

  /** google.protobuf.Any bytes (state-of-the-world responses). */
  get any(): Uint8Array {
    this.#any ??= encodeAny(this.typeUrl, this.value);
    return this.#any;
  }

  /** envoy.service.discovery.v3.Resource bytes (delta responses). */
  get deltaResource(): Uint8Array {
    this.#delta ??= encodeDeltaResource(this.name, this.version, this.any);
    return this.#delta;
  }
}

/** A content hash of encoded bytes, for callers that have none at hand. */
export function contentVersion(value: Uint8Array): string {
  return createHash('sha256').update(value).digest('base64url').slice(0, 16);
}

/**
 * Wraps encoded bytes as a resource. `version` should be a content hash the caller already has
 * (e.g. of the policy object it was compiled from); without one, the bytes are hashed.
 */
export function createResource(
  typeUrl: string,
  name: string,
  value: Uint8Array,
  version: string = contentVersion(value),
): CachedResource {
  return new CachedResource(typeUrl, name, value, version);
}

/** The encode half of a ts-proto message object. */
export interface MessageEncoder<T> {
  encode(message: T): { finish(): Uint8Array };
}

/** Encodes a generated message once and wraps it as a resource. */
export function encodeResource<T>(
  typeUrl: string,
  codec: MessageEncoder<T>,
  name: string,
  message: T,
  version?: string,
): CachedResource {
  const value = codec.encode(message).finish();
  return createResource(typeUrl, name, value, version ?? contentVersion(value));
}
