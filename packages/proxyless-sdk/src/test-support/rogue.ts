// A rogue xDS server for tests: it relays to a real ADS server and can push any bytes down any
// open stream, as a compromised or buggy control plane would.
import * as grpc from '@grpc/grpc-js';
import { SOTW_METHOD_PATH } from '@weft/xds-protocol';

const id = (b: Buffer): Buffer => b;

export interface RogueAds {
  readonly address: string;
  /** Writes `bytes` as one message on every open SotW stream; resolves with how many got it. */
  inject(bytes: Uint8Array): number;
  streams(): number;
  close(): void;
}

export async function startRogueAds(upstream: string): Promise<RogueAds> {
  const open = new Set<grpc.ServerDuplexStream<Buffer, Buffer>>();
  const client = new grpc.Client(upstream, grpc.credentials.createInsecure(), {
    'grpc.max_receive_message_length': -1,
    'grpc.max_send_message_length': -1,
  });
  const server = new grpc.Server({
    'grpc.max_receive_message_length': -1,
    'grpc.max_send_message_length': -1,
  });
  server.addService(
    {
      Sotw: {
        path: SOTW_METHOD_PATH,
        requestStream: true,
        responseStream: true,
        requestSerialize: id,
        requestDeserialize: id,
        responseSerialize: id,
        responseDeserialize: id,
      },
    },
    {
      Sotw: (down: grpc.ServerDuplexStream<Buffer, Buffer>) => {
        open.add(down);
        const up = client.makeBidiStreamRequest(SOTW_METHOD_PATH, id, id, down.metadata);
        up.on('data', (b: Buffer) => down.write(b));
        up.on('error', () => {
          open.delete(down);
          down.emit('error', { code: grpc.status.UNAVAILABLE, details: 'upstream gone' });
        });
        down.on('data', (b: Buffer) => up.write(b));
        down.on('error', () => up.cancel());
        down.on('cancelled', () => {
          open.delete(down);
          up.cancel();
        });
        down.on('end', () => up.end());
      },
    },
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) =>
      e ? reject(e) : resolve(p),
    ),
  );
  return {
    address: `127.0.0.1:${port}`,
    inject(bytes) {
      for (const s of open) s.write(Buffer.from(bytes));
      return open.size;
    },
    streams: () => open.size,
    close() {
      client.close();
      server.forceShutdown();
    },
  };
}
