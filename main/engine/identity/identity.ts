/**
 * The device's long-term identity: an Ed25519 key pair kept in the data directory
 * (file mode 0600), created on first start. The Noise handshake of the secure
 * channel proves possession of it; contacts pin its public key.
 */
import { mkdir, readFile, writeFile, rename, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import SecretStream from '@hyperswarm/secret-stream';
import sodium from 'sodium-native';
import { peerIdFromPublicKey, shortId } from './peer-id.js';

export interface Identity {
  publicKey: Buffer;
  secretKey: Buffer;
  /** Full peer ID (base32 of the public key). */
  peerId: string;
  /** Human-checkable short form, `ABCD-EFGH`. */
  shortId: string;
}

const FILE = 'identity.json';

interface StoredIdentity {
  version: 1;
  publicKey: string;
  secretKey: string;
}

export function identityFromKeyPair(keyPair: { publicKey: Buffer; secretKey: Buffer }): Identity {
  return {
    publicKey: keyPair.publicKey,
    secretKey: keyPair.secretKey,
    peerId: peerIdFromPublicKey(keyPair.publicKey),
    shortId: shortId(keyPair.publicKey),
  };
}

export function generateIdentity(): Identity {
  return identityFromKeyPair(SecretStream.keyPair());
}

export async function loadOrCreateIdentity(dataDir: string): Promise<Identity> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const path = join(dataDir, FILE);
  let text: string | undefined;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (text !== undefined) {
    const stored = JSON.parse(text) as StoredIdentity;
    const publicKey = Buffer.from(stored.publicKey, 'hex');
    const secretKey = Buffer.from(stored.secretKey, 'hex');
    if (publicKey.length !== 32 || secretKey.length !== 64 || !secretKey.subarray(32).equals(publicKey)) {
      throw Object.assign(new Error(`The identity file ${path} is damaged. Move it away to create a new identity (paired devices will need to pair again).`), { code: 'IDENTITY_DAMAGED' });
    }
    await chmod(path, 0o600);
    return identityFromKeyPair({ publicKey, secretKey });
  }
  const identity = generateIdentity();
  const stored: StoredIdentity = { version: 1, publicKey: identity.publicKey.toString('hex'), secretKey: identity.secretKey.toString('hex') };
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(stored, null, 2), { mode: 0o600 });
  await rename(tmp, path);
  return identity;
}

/** Ed25519 signature with the identity key (used to register at the rendezvous). */
export function sign(identity: Identity, message: Uint8Array): Buffer {
  const sig = Buffer.alloc(sodium.crypto_sign_BYTES);
  sodium.crypto_sign_detached(sig, Buffer.from(message), identity.secretKey);
  return sig;
}

export function verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== 32 || signature.length !== 64) return false;
  try {
    return sodium.crypto_sign_verify_detached(Buffer.from(signature), Buffer.from(message), Buffer.from(publicKey));
  } catch {
    return false;
  }
}

export function fingerprint(publicKey: Uint8Array): string {
  return createHash('sha256').update(publicKey).digest('hex');
}
