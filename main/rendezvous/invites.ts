/**
 * Invite nameplates: the public, numeric first part of an invite code. The
 * rendezvous hands out the smallest free number (so codes stay short), remembers
 * which peer owns it, and forgets it when it expires, is closed, or has been
 * resolved once (single use). The secret words never reach the server.
 */
export const INVITE_TTL_MS = 10 * 60_000;

interface Invite {
  owner: string;
  expiresAt: number;
}

export class InviteBook {
  private readonly invites = new Map<number, Invite>();

  constructor(private readonly now: () => number = Date.now) {}

  open(owner: string): { nameplate: number; expiresAt: number } {
    this.sweep();
    let nameplate = 1;
    while (this.invites.has(nameplate)) nameplate++;
    const expiresAt = this.now() + INVITE_TTL_MS;
    this.invites.set(nameplate, { owner, expiresAt });
    return { nameplate, expiresAt };
  }

  /** Single use: a resolved nameplate is gone. Returns the owner's peer ID. */
  resolve(nameplate: number): string | undefined {
    this.sweep();
    const invite = this.invites.get(nameplate);
    if (!invite) return undefined;
    this.invites.delete(nameplate);
    return invite.owner;
  }

  close(nameplate: number, owner: string): void {
    if (this.invites.get(nameplate)?.owner === owner) this.invites.delete(nameplate);
  }

  closeAllOf(owner: string): void {
    for (const [nameplate, invite] of this.invites) if (invite.owner === owner) this.invites.delete(nameplate);
  }

  get size(): number {
    this.sweep();
    return this.invites.size;
  }

  private sweep(): void {
    const now = this.now();
    for (const [nameplate, invite] of this.invites) if (invite.expiresAt <= now) this.invites.delete(nameplate);
  }
}
