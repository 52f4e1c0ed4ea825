// The weft.v1 -> domain conversion ztunnel's xDS client decodes with: @weft/xds-protocol's one
// converter module, shared by every proxy. Each resource is decoded, checked and converted on
// its own; a bad one is NACKed by name and never reaches the store.
import { domainResourceType } from '@weft/xds-protocol/convert';
import type { XdsResourceTypes } from './xds-source.ts';

export function defaultXdsTypes(): XdsResourceTypes {
  return {
    workload: domainResourceType('workload'),
    service: domainResourceType('service'),
    authorization: domainResourceType('authorization'),
  };
}
