import { generateKeyPair } from 'node:crypto';

export interface KeyPairPem {
  /** PKCS#8 PEM. */
  readonly privateKeyPem: string;
  /** SPKI PEM. */
  readonly publicKeyPem: string;
}

/**
 * Generates an RSA key pair with the runtime's native crypto (off the main thread). Keys are RSA
 * because node-forge, which builds the certificates and CSRs, has no ECDSA support.
 */
export function generateRsaKeyPair(modulusLength = 2048): Promise<KeyPairPem> {
  return new Promise((resolve, reject) => {
    generateKeyPair(
      'rsa',
      {
        modulusLength,
        publicExponent: 0x10001,
        publicKeyEncoding: { type: 'spki', format: 'pem' },
        privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
      },
      (err, publicKeyPem, privateKeyPem) => {
        if (err) reject(err);
        else resolve({ privateKeyPem, publicKeyPem });
      },
    );
  });
}
