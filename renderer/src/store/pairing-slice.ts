/** Pairing slice: the invite this device shows, the code typed from another one, nearby requests. */
import type { InviteView, NearbyRequestView, PairedView } from '../../../shared/domain/peers.js';
import type { SliceCreator, Store } from './types.js';
import { call, messageOf } from './call.js';

export type PairingMode = 'invite' | 'enter' | null;

export interface PairingSlice {
  pairingMode: PairingMode;
  invite: InviteView | null;
  inviteBusy: boolean;
  inviteError: string | null;
  codeDraft: string;
  pairBusy: boolean;
  pairError: string | null;
  nearbyRequests: NearbyRequestView[];
  showInvite(): Promise<void>;
  cancelInvite(): Promise<void>;
  showEnterCode(code?: string): void;
  closePairing(): void;
  setCodeDraft(code: string): void;
  pairWithCode(): Promise<void>;
  decideNearby(requestId: string, accept: boolean): Promise<void>;
  applyInvite(invite: InviteView): void;
  applyPaired(paired: PairedView): void;
  addNearbyRequest(req: NearbyRequestView): void;
  removeNearbyRequest(requestId: string): void;
}

export const initialPairing = {
  pairingMode: null as PairingMode, invite: null, inviteBusy: false, inviteError: null,
  codeDraft: '', pairBusy: false, pairError: null, nearbyRequests: [] as NearbyRequestView[],
} satisfies Partial<PairingSlice>;

export const createPairingSlice: SliceCreator<PairingSlice> = (bridge) => (set, get) => ({
  ...initialPairing,
  async showInvite() {
    set({ pairingMode: 'invite', view: 'devices', inviteBusy: true, inviteError: null });
    try {
      set({ invite: await call(bridge, 'pairing.createInvite') });
    } catch (err) {
      set({ inviteError: messageOf(err) });
    } finally {
      set({ inviteBusy: false });
    }
  },
  async cancelInvite() {
    set({ pairingMode: null });
    try {
      await call(bridge, 'pairing.cancelInvite');
    } catch (err) {
      get().notify('error', messageOf(err));
    }
  },
  showEnterCode: (code) => set((s) => ({ pairingMode: 'enter', view: 'devices', pairError: null, codeDraft: code ?? s.codeDraft })),
  closePairing: () => set({ pairingMode: null }),
  setCodeDraft: (codeDraft) => set({ codeDraft, pairError: null }),
  async pairWithCode() {
    const code = get().codeDraft.trim();
    if (!code) {
      set({ pairError: 'Type the code shown on the other device, like 7-guitar-ocean-velvet.' });
      return;
    }
    set({ pairBusy: true, pairError: null });
    try {
      const paired = await call(bridge, 'pairing.pairWithCode', { code });
      // The `pairing.paired` event brings the notice; here only the view moves on.
      set({ codeDraft: '', pairingMode: null, selectedPeerId: paired.peerId, view: 'devices' });
    } catch (err) {
      set({ pairError: messageOf(err) });
    } finally {
      set({ pairBusy: false });
    }
  },
  async decideNearby(requestId, accept) {
    get().removeNearbyRequest(requestId);
    try {
      await call(bridge, 'pairing.decideNearby', { requestId, accept });
    } catch (err) {
      get().notify('error', messageOf(err));
    }
  },
  applyInvite: (invite) => set((s) => (s.invite?.code === invite.code ? { invite } : {})),
  applyPaired(paired) {
    const s = get();
    // Only the side that was pairing moves on to the new device.
    if (s.pairingMode) set({ pairingMode: null, selectedPeerId: paired.peerId, view: 'devices' });
    s.notify('info', `Paired with ${paired.name || 'the other device'} (${paired.shortId}). You can send files now.`);
  },
  addNearbyRequest: (req) => set((s) => ({ nearbyRequests: [...s.nearbyRequests.filter((r) => r.requestId !== req.requestId), req] })),
  removeNearbyRequest: (requestId) => set((s) => ({ nearbyRequests: s.nearbyRequests.filter((r) => r.requestId !== requestId) })),
});

export const selectPairingMode = (s: Store) => s.pairingMode;
export const selectInvite = (s: Store) => s.invite;
export const selectInviteBusy = (s: Store) => s.inviteBusy;
export const selectInviteError = (s: Store) => s.inviteError;
export const selectCodeDraft = (s: Store) => s.codeDraft;
export const selectPairBusy = (s: Store) => s.pairBusy;
export const selectPairError = (s: Store) => s.pairError;
export const selectFirstNearbyRequest = (s: Store) => s.nearbyRequests[0];
