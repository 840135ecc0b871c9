import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TransferInfo } from '../../shared/domain/transfer.js';
import { startNodes } from './test/harness.js';

/**
 * What `postern send` and `postern receive CODE` do, with the race that lost the
 * first OFFER about one run in ten made certain: the side that typed the code is
 * still saving the new contact (the last step of pairing, before its session) when
 * the other side's OFFER arrives. The OFFER waits in the link's FrameRouter and must
 * reach the transfer manager when the session attaches. The re-offers after 3, 6, 12
 * and 24 s (node.ts, nudgeResumes) are switched off here: the first OFFER must do.
 */
test('an OFFER that arrives while the receiver is still finishing pairing is received, without a re-offer', async () => {
  const pair = await startNodes();
  try {
    const { alice, bob } = pair;
    const file = join(pair.root, 'early.txt');
    await writeFile(file, 'early');

    // No re-offers: count them and do nothing.
    let reoffers = 0;
    alice.transfers.resume = (id: string): TransferInfo => {
      reoffers++;
      const t = alice.transfers.get(id);
      assert.ok(t);
      return t;
    };

    // Bob finishes pairing (and takes the session) only once Alice's OFFER had time to reach him.
    let offered!: () => void;
    const offerSent = new Promise<void>((resolve) => { offered = resolve; });
    alice.transfers.on('transfer', (t) => { if (t.direction === 'send' && t.state === 'waiting-accept') offered(); });
    const add = bob.contacts.add.bind(bob.contacts);
    bob.contacts.add = async (contact) => {
      await offerSent;
      await new Promise((resolve) => setTimeout(resolve, 200));
      return add(contact);
    };
    const offer = new Promise<string>((resolve) => bob.transfers.on('offer', (o) => resolve(o.transfer.id)));

    const invite = await alice.createInvite();
    const sending = invite.paired.then(() => alice.sendFiles(bob.peerId, [file]));
    await bob.pairWithCode(invite.code);
    const sent = await sending;

    const got = await Promise.race([offer, new Promise<null>((resolve) => setTimeout(() => resolve(null), 5000).unref())]);
    assert.equal(got, sent.id, 'the receiver never saw the first OFFER');
    const done = new Promise<void>((resolve) => alice.transfers.on('transfer', (t) => { if (t.id === sent.id && t.state === 'completed') resolve(); }));
    await bob.transfers.accept(sent.id);
    await done;
    assert.equal(reoffers, 0);
  } finally {
    await pair.close();
  }
});
