// Kept apart from x509.ts so that the published type declarations never import node-forge:
// users of the package need no forge types to compile against it.

/** Who computes certificate signatures: node:crypto (default, faster) or node-forge. */
export type SignatureBackend = 'native' | 'forge';
