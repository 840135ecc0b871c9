/**
 * Engine → contract views: pure functions that turn a running PosternNode into the
 * plain data of shared/domain (peers merged from contacts and LAN discovery, this
 * device). No events, no state: the service (service.ts) decides when to call them.
 */
import type { PosternNode, PairedEvent, NearbyRequest } from '../engine/node.js';
import type { NearbyRequestView, PairedView, PeerView, SelfView } from '../../shared/domain/peers.js';
import { shortId } from '../engine/identity/peer-id.js';

export function selfView(node: PosternNode | null, fallbackName: string): SelfView {
  if (!node?.identity) return { name: fallbackName, peerId: '', shortId: '', listenPort: 0 };
  return { name: node.name, peerId: node.peerId, shortId: node.identity.shortId, listenPort: node.listenPort };
}

/** Paired contacts first, then devices heard on the LAN; online before offline, then by name. */
export function peerViews(node: PosternNode | null): PeerView[] {
  if (!node?.contacts) return [];
  const nearby = new Map(node.nearby().filter((d) => d.peerId !== node.peerId).map((d) => [d.peerId, d]));
  const views: PeerView[] = node.contacts.list().map((c) => {
    const near = nearby.get(c.peerId);
    nearby.delete(c.peerId);
    return {
      peerId: c.peerId, shortId: shortId(c.peerId), name: c.name || near?.name || 'Unnamed device',
      paired: true, nearby: !!near, online: node.isOnline(c.peerId), address: near?.ip ?? null,
      connection: node.connectionInfo(c.peerId) ?? null, lastTier: c.lastTier, lastSeenAt: c.lastSeenAt, pairedAt: c.pairedAt,
    };
  });
  for (const d of nearby.values()) {
    views.push({
      peerId: d.peerId, shortId: shortId(d.peerId), name: d.name || 'Unnamed device',
      paired: false, nearby: true, online: true, address: d.ip,
      connection: node.connectionInfo(d.peerId) ?? null, lastTier: null, lastSeenAt: d.lastSeenAt, pairedAt: null,
    });
  }
  return views.sort((a, b) => Number(b.paired) - Number(a.paired) || Number(b.online) - Number(a.online) || a.name.localeCompare(b.name));
}

export function pairedView(ev: PairedEvent): PairedView {
  return { peerId: ev.peerId, shortId: shortId(ev.peerId), name: ev.name, tier: ev.tier, by: ev.by };
}

export function nearbyRequestView(req: NearbyRequest, expiresAt: number): NearbyRequestView {
  return { ...req, shortId: shortId(req.peerId), expiresAt };
}
