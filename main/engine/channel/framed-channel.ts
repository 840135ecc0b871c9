/**
 * The contract every layer above the secure channel speaks: an ordered, reliable,
 * encrypted and authenticated sequence of frames (message boundaries preserved)
 * between two peers whose identity keys are known. The secure channel provides it
 * over TCP today, and over UDP streams and relays in later tiers; the transfer and
 * session layers never know which.
 *
 * Frame type ranges (the first byte of every frame), so the session can route
 * without copying:
 *   0x01–0x1f  session control (hello, ping, pairing)
 *   0x20–0x3f  transfers (main/engine/transfer)
 *   0x40       bytes a peer relay carries between two other devices
 */
export interface FramedChannel {
  /** The remote peer's long-term Ed25519 public key, proven in the handshake. */
  readonly remotePublicKey: Uint8Array;
  /** Hash of the handshake transcript: unique to this channel, used for channel binding. */
  readonly handshakeHash: Uint8Array;
  /**
   * Queue one frame. Returns false when the caller should wait for `drained()`
   * before writing more (backpressure); the frame is queued either way.
   */
  write(frame: Uint8Array): boolean;
  /** Resolves when the write buffer has drained (or the channel closed). */
  drained(): Promise<void>;
  /**
   * Subscribe to incoming frames; returns an unsubscribe function. Frames that
   * arrived before the first subscriber are handed to it at once, before this
   * returns: be ready for them before subscribing.
   */
  onFrame(handler: (frame: Uint8Array) => void): () => void;
  /** Subscribe to close; `err` is set when it closed abnormally. */
  onClose(handler: (err?: Error) => void): () => void;
  readonly closed: boolean;
  close(err?: Error): void;
  /** Flow control for relays: stop and restart reading from the peer (optional). */
  pause?(): void;
  resume?(): void;
}

export const FRAME_RANGE = {
  session: { min: 0x01, max: 0x1f },
  transfer: { min: 0x20, max: 0x3f },
} as const;
