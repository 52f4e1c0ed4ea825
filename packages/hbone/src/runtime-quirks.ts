// Known differences between the runtimes this package runs on (Node and Bun), in one place.

/** True when running under Bun. */
export const isBun = typeof (process.versions as Record<string, string | undefined>).bun === 'string';

/**
 * Whether to raise the HTTP/2 connection window with `session.setLocalWindowSize`. Bun 1.4's
 * node:http2 stops sending stream WINDOW_UPDATEs after that call, stalling every tunnel once its
 * stream window is used up, so under Bun the connection keeps the default 64 KiB window.
 */
export const canRaiseConnectionWindow = !isBun;
