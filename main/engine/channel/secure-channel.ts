/**
 * The secure channel: Noise XX (Ed25519 identities, ChaCha20-Poly1305 via libsodium)
 * over any duplex byte stream, using @hyperswarm/secret-stream — a well-kept library
 * (the transport encryption of Hyperswarm). Both sides prove their long-term key in
 * the handshake; every message is encrypted and authenticated, and message
 * boundaries are preserved, which gives us frames for free.
 *
 * The same function wraps TCP sockets today and UDP streams or relay circuits later.
 */
import type { Duplex } from 'node:stream';
import SecretStream from '@hyperswarm/secret-stream';
import type { Identity } from '../identity/identity.js';
import type { FramedChannel } from './framed-channel.js';
import { EngineError } from '../errors.js';

export interface SecureChannelOptions {
  /** Abort the handshake after this long. @default 10000 */
  handshakeTimeoutMs?: number;
  /** Expected remote key: the handshake fails if the peer proves another one. */
  expectedRemoteKey?: Uint8Array;
  /** Close the channel after this long without any message. @default 60000 */
  idleTimeoutMs?: number;
  /** Send a heartbeat when idle this long. @default 15000 */
  keepAliveMs?: number;
}

/** Run the Noise handshake over `raw` and resolve with an authenticated FramedChannel. */
export function openSecureChannel(raw: Duplex, isInitiator: boolean, identity: Identity, opts: SecureChannelOptions = {}): Promise<FramedChannel> {
  const stream = new SecretStream(isInitiator, raw, { keyPair: { publicKey: identity.publicKey, secretKey: identity.secretKey } });
  const handshakeTimeoutMs = opts.handshakeTimeoutMs ?? 10_000;
  return new Promise<FramedChannel>((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => fail(new EngineError('HANDSHAKE_TIMEOUT', `The secure handshake did not finish within ${handshakeTimeoutMs} ms.`)), handshakeTimeoutMs);
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      stream.destroy();
      raw.destroy();
      reject(err);
    };
    stream.once('error', (err: Error) => fail(new EngineError('HANDSHAKE_FAILED', `The secure handshake failed: ${err.message}`)));
    stream.once('close', () => fail(new EngineError('HANDSHAKE_FAILED', 'The connection closed during the secure handshake.')));
    stream.once('connect', () => {
      if (settled) return;
      const remote = stream.remotePublicKey;
      if (!remote || !stream.handshakeHash) return fail(new EngineError('HANDSHAKE_FAILED', 'The handshake finished without a remote key.'));
      if (opts.expectedRemoteKey && !Buffer.from(opts.expectedRemoteKey).equals(remote)) {
        return fail(new EngineError('WRONG_PEER', 'The device that answered is not the one we expected (its key differs).'));
      }
      settled = true;
      clearTimeout(timer);
      stream.removeAllListeners('error');
      stream.removeAllListeners('close');
      stream.setTimeout(opts.idleTimeoutMs ?? 60_000);
      stream.setKeepAlive(opts.keepAliveMs ?? 15_000);
      resolve(new SecretStreamChannel(stream, remote, stream.handshakeHash));
    });
  });
}

class SecretStreamChannel implements FramedChannel {
  closed = false;
  private frameHandlers = new Set<(frame: Uint8Array) => void>();
  private closeHandlers = new Set<(err?: Error) => void>();
  private closeError: Error | undefined;
  private backlog: Uint8Array[] = [];

  constructor(private readonly stream: SecretStream, readonly remotePublicKey: Uint8Array, readonly handshakeHash: Uint8Array) {
    stream.on('data', (frame: Buffer) => {
      // Keep-alive heartbeats arrive as empty messages.
      if (frame.length === 0) return;
      // Frames that arrive before anyone listens are kept, not lost.
      if (this.frameHandlers.size === 0) this.backlog.push(frame);
      else for (const handler of this.frameHandlers) handler(frame);
    });
    stream.on('error', (err: Error) => {
      this.closeError ??= err;
    });
    stream.on('close', () => this.finish());
  }

  write(frame: Uint8Array): boolean {
    if (this.closed) return false;
    return this.stream.write(frame);
  }

  drained(): Promise<void> {
    if (this.closed || !this.stream.writableNeedDrain) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.stream.off('drain', done);
        this.closeHandlers.delete(done);
        resolve();
      };
      this.stream.on('drain', done);
      this.closeHandlers.add(done);
    });
  }

  onFrame(handler: (frame: Uint8Array) => void): () => void {
    this.frameHandlers.add(handler);
    if (this.backlog.length) {
      const pending = this.backlog;
      this.backlog = [];
      for (const frame of pending) handler(frame);
    }
    return () => this.frameHandlers.delete(handler);
  }

  onClose(handler: (err?: Error) => void): () => void {
    if (this.closed) {
      queueMicrotask(() => handler(this.closeError));
      return () => {};
    }
    this.closeHandlers.add(handler);
    return () => this.closeHandlers.delete(handler);
  }

  /** Stop reading from the peer (a relay whose other side is backed up); resume later. */
  pause(): void {
    this.stream.pause();
  }

  resume(): void {
    this.stream.resume();
  }

  close(err?: Error): void {
    if (this.closed) return;
    if (err) this.closeError ??= err;
    if (err) this.stream.destroy();
    else this.stream.end();
    // end() waits for the peer; make sure we do not hang on a dead link.
    setTimeout(() => this.stream.destroy(), 2000).unref();
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    for (const handler of [...this.closeHandlers]) handler(this.closeError);
    this.closeHandlers.clear();
    this.frameHandlers.clear();
  }
}
