// @weft/proxy-core/process: what a proxy binary's main module needs before it serves: the
// --concurrency flag, the worker supervisor, and listen-address flags. Kept apart from the
// package's index so a supervising process (which only forks and restarts workers) does not load
// the proxy itself: about 50 MiB resident instead of 80.
export { type ListenAddress, type ListenAddressResult, parseListenAddress } from './net/listen-address.ts';
export * from './workers/index.ts';
