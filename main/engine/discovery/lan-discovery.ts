/**
 * Nearby devices without any server: each node announces itself by UDP multicast
 * on the local network (as LocalSend and Syncthing's local discovery do) and
 * listens for others. An announcement carries the peer ID, display name, and the
 * TCP port to dial; the address is the one the packet came from. Nothing in it is
 * trusted: the secure channel proves the key when a device is dialed.
 */
import { createSocket, type Socket } from 'node:dgram';
import { z } from 'zod';
import { Emitter } from '../util/emitter.js';

export const DISCOVERY_GROUP = '239.255.80.82';
export const DISCOVERY_PORT = 47471;

const AnnouncementSchema = z.object({
  app: z.literal('postern'),
  v: z.literal(1),
  peerId: z.string().regex(/^[a-z2-7]{52}$/),
  name: z.string().max(64),
  tcpPort: z.number().int().min(1).max(65535),
  rendezvous: z.string().max(200).optional(),
});
export type Announcement = z.infer<typeof AnnouncementSchema>;

export interface NearbyDevice extends Announcement {
  ip: string;
  lastSeenAt: number;
}

export interface DiscoveryOptions {
  self: () => Omit<Announcement, 'app' | 'v'> | null;
  /** Address of the interface to announce on; default: the OS's choice. */
  interfaceAddress?: string;
  /** @default 5000 */
  intervalMs?: number;
  /** @default DISCOVERY_PORT */
  port?: number;
  /** @default DISCOVERY_GROUP */
  group?: string;
}

export class LanDiscovery extends Emitter<{ nearby: NearbyDevice; lost: { peerId: string } }> {
  private socket: Socket | undefined;
  private timer: NodeJS.Timeout | undefined;
  private devices = new Map<string, NearbyDevice>();

  constructor(private readonly opts: DiscoveryOptions) {
    super();
  }

  async start(): Promise<void> {
    const port = this.opts.port ?? DISCOVERY_PORT;
    const group = this.opts.group ?? DISCOVERY_GROUP;
    const socket = createSocket({ type: 'udp4', reuseAddr: true });
    this.socket = socket;
    socket.on('message', (msg, rinfo) => this.onMessage(msg, rinfo.address));
    socket.on('error', () => {});
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    socket.addMembership(group, this.opts.interfaceAddress);
    if (this.opts.interfaceAddress) socket.setMulticastInterface(this.opts.interfaceAddress);
    socket.setMulticastTTL(1);
    socket.setMulticastLoopback(true);
    this.announce();
    this.timer = setInterval(() => {
      this.announce();
      this.expire();
    }, this.opts.intervalMs ?? 5000);
    this.timer.unref();
  }

  list(): NearbyDevice[] {
    this.expire();
    return [...this.devices.values()];
  }

  get(peerId: string): NearbyDevice | undefined {
    return this.devices.get(peerId);
  }

  announce(): void {
    const self = this.opts.self();
    if (!self || !this.socket) return;
    const packet = Buffer.from(JSON.stringify({ app: 'postern', v: 1, ...self }));
    this.socket.send(packet, this.opts.port ?? DISCOVERY_PORT, this.opts.group ?? DISCOVERY_GROUP, () => {});
  }

  private onMessage(msg: Buffer, ip: string): void {
    if (msg.length > 2048) return;
    let json: unknown;
    try {
      json = JSON.parse(msg.toString('utf8'));
    } catch {
      return;
    }
    const parsed = AnnouncementSchema.safeParse(json);
    if (!parsed.success) return;
    const self = this.opts.self();
    if (self && parsed.data.peerId === self.peerId) return;
    const known = this.devices.has(parsed.data.peerId);
    const device: NearbyDevice = { ...parsed.data, ip, lastSeenAt: Date.now() };
    this.devices.set(device.peerId, device);
    if (!known) {
      this.emit('nearby', device);
      // Answer a newcomer at once rather than making it wait for our next interval.
      this.announce();
    }
  }

  private expire(): void {
    const cutoff = Date.now() - 3 * (this.opts.intervalMs ?? 5000);
    for (const [id, d] of this.devices) {
      if (d.lastSeenAt < cutoff) {
        this.devices.delete(id);
        this.emit('lost', { peerId: id });
      }
    }
  }

  stop(): void {
    clearInterval(this.timer);
    this.socket?.close();
    this.socket = undefined;
    this.removeAll();
  }
}
