/** Resolve what a user typed after `--to` / `--from`: a full peer ID, a short ID, or a contact's name. */
import type { PosternNode } from '../engine/node.js';
import { shortId } from '../engine/identity/peer-id.js';
import { EngineError } from '../engine/errors.js';

export function resolvePeer(node: PosternNode, text: string): string {
  const contacts = node.contacts.list();
  const byId = contacts.find((c) => c.peerId === text.toLowerCase());
  if (byId) return byId.peerId;
  const typed = text.toUpperCase().replace(/[^A-Z2-7]/g, '');
  const byShort = contacts.filter((c) => shortId(c.peerId).replace('-', '') === typed);
  if (byShort.length === 1) return (byShort[0] as { peerId: string }).peerId;
  const byName = contacts.filter((c) => c.name.toLowerCase() === text.toLowerCase());
  if (byName.length === 1) return (byName[0] as { peerId: string }).peerId;
  if (byName.length > 1) throw new EngineError('AMBIGUOUS_PEER', `Several paired devices are called "${text}"; use the short ID instead (postern contacts lists them).`);
  throw new EngineError('UNKNOWN_PEER', `No paired device matches "${text}". Pair first with an invite code (postern send PATH), or list paired devices with postern contacts.`);
}
