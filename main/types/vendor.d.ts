// Types for the untyped CommonJS packages the engine uses, limited to what we call.

declare module '@hyperswarm/secret-stream' {
  import type { Duplex } from 'node:stream';
  interface KeyPair { publicKey: Buffer; secretKey: Buffer }
  interface Options {
    pattern?: string;
    remotePublicKey?: Buffer;
    keyPair?: KeyPair;
    autoStart?: boolean;
  }
  class NoiseSecretStream extends Duplex {
    constructor(isInitiator: boolean, rawStream?: Duplex | null, opts?: Options);
    static keyPair(seed?: Buffer): KeyPair;
    readonly isInitiator: boolean;
    readonly rawStream: Duplex;
    publicKey: Buffer | null;
    remotePublicKey: Buffer | null;
    handshakeHash: Buffer | null;
    opened: Promise<boolean>;
    setTimeout(ms: number): void;
    setKeepAlive(ms: number): void;
    start(rawStream: Duplex, opts?: Options): void;
  }
  export default NoiseSecretStream;
}

declare module 'sodium-native' {
  const sodium: {
    crypto_sign_BYTES: number;
    crypto_sign_detached(sig: Buffer, message: Buffer, secretKey: Buffer): void;
    crypto_sign_verify_detached(sig: Buffer, message: Buffer, publicKey: Buffer): boolean;
  };
  export default sodium;
}
