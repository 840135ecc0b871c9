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

declare module 'udx-native' {
  import type { Duplex } from 'node:stream';
  import type { EventEmitter } from 'node:events';
  interface Address { host: string; family: number; port: number }
  class UDXSocket extends EventEmitter {
    bind(port?: number, host?: string): void;
    address(): Address;
    send(buffer: Buffer, port: number, host: string, ttl?: number): Promise<boolean>;
    trySend(buffer: Buffer, port: number, host: string, ttl?: number): void;
    close(): Promise<void>;
    readonly bound: boolean;
    readonly closing: boolean;
  }
  class UDXStream extends Duplex {
    readonly id: number;
    readonly remoteId: number;
    readonly remoteHost: string | null;
    readonly remotePort: number;
    readonly rtt: number;
    readonly connected: boolean;
    connect(socket: UDXSocket, remoteId: number, port: number, host?: string, opts?: { ack?: number }): void;
    changeRemote(socket: UDXSocket, remoteId: number, port: number, host?: string): Promise<void>;
    setInteractive(interactive: boolean): void;
  }
  class UDX {
    constructor();
    createSocket(opts?: { ipv6Only?: boolean; reuseAddress?: boolean }): UDXSocket;
    createStream(id: number, opts?: { firewall?: (socket: UDXSocket, port: number, host: string) => boolean; framed?: boolean; seq?: number; ack?: number }): UDXStream;
    static isIPv4(host: string): boolean;
  }
  export default UDX;
  export type { UDXSocket, UDXStream };
}
