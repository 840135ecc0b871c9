/**
 * The TCP listener: accepts connections, runs the responder side of the secure
 * handshake, reads the hello and hands the result to the node, which decides.
 * A fixed port (settings) is what a user forwards on their router (tier `direct`).
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Identity } from './identity/identity.js';
import { receiveGreeting } from './ladder/link.js';
import type { FramedChannel } from './channel/framed-channel.js';
import type { FrameRouter } from './channel/frame-router.js';
import type { Hello } from '../wire/session-frames.js';
import { EngineError } from './errors.js';

export interface Incoming {
  channel: FramedChannel;
  router: FrameRouter;
  peerId: string;
  hello: Hello;
  remoteAddress: string;
}

export class TcpListener {
  private server: Server | undefined;
  private sockets = new Set<Socket>();
  port = 0;

  constructor(private readonly identity: Identity, private readonly onIncoming: (incoming: Incoming) => void, private readonly log: (line: string) => void = () => {}) {}

  async listen(port: number, host = '0.0.0.0'): Promise<number> {
    const server = createServer((socket) => this.accept(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => reject(err.code === 'EADDRINUSE'
        ? new EngineError('PORT_IN_USE', `Port ${port} is already in use by another program. Choose another listening port in settings.`)
        : err));
      server.listen(port, host, () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    return this.port;
  }

  private accept(socket: Socket): void {
    this.sockets.add(socket);
    socket.setNoDelay(true);
    socket.once('close', () => this.sockets.delete(socket));
    socket.on('error', () => {});
    const remoteAddress = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`;
    receiveGreeting(socket, this.identity).then(
      ({ channel, router, peerId, hello }) => this.onIncoming({ channel, router, peerId, hello, remoteAddress }),
      (err: Error) => {
        this.log(`incoming from ${remoteAddress} dropped: ${err.message}`);
        socket.destroy();
      },
    );
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    if (this.server) await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }
}
