/**
 * Pairing over an established secure channel with SPAKE2 (RFC 9382), bound to the
 * channel: the Noise handshake hash is both the scrypt salt and SPAKE2's AAD, and
 * the identities are both peer IDs. A is the side that typed the code, B the side
 * that showed it. A man in the middle holds two channels with different handshake
 * hashes, so without the code's words its confirmation cannot verify. See
 * docs/security.md.
 *
 *   A → B  PAKE_A        pA
 *   B → A  PAKE_B        pB, MAC_B
 *   A → B  PAKE_CONFIRM  MAC_A        (only if MAC_B verified)
 *   B → A  PAKE_RESULT   ok | WRONG_CODE
 */
import { startSpake2, passwordToScalar } from './spake2.js';
import { encodeSessionFrame, SESSION_FRAME } from '../../wire/session-frames.js';
import type { Link } from '../ladder/link.js';
import { EngineError } from '../errors.js';

const STEP_TIMEOUT_MS = 15_000;
const WRONG_CODE = 'The code did not match on the two devices. Check it on the sender\'s screen and ask for a new one (each code works once).';

export async function pairAsCodeEnterer(link: Link, ownPeerId: string, password: string): Promise<void> {
  const hh = link.channel.handshakeHash;
  const w = await passwordToScalar(password, hh);
  const session = startSpake2({ role: 'A', w, idA: ownPeerId, idB: link.peerId, aad: hh });
  link.channel.write(encodeSessionFrame(SESSION_FRAME.PAKE_A, { msg: Buffer.from(session.message).toString('hex') }));
  const reply = await link.router.next(SESSION_FRAME.PAKE_B, STEP_TIMEOUT_MS);
  let result;
  try {
    result = session.finish(Buffer.from(reply.msg, 'hex'));
  } catch (err) {
    throw new EngineError('PAIRING_FAILED', `The other device sent an invalid pairing message (${(err as Error).message}).`);
  }
  if (!result.verifyPeerConfirmation(Buffer.from(reply.confirm, 'hex'))) {
    link.channel.write(encodeSessionFrame(SESSION_FRAME.PAKE_RESULT, { ok: false, code: 'WRONG_CODE', message: WRONG_CODE }));
    throw new EngineError('WRONG_CODE', WRONG_CODE);
  }
  link.channel.write(encodeSessionFrame(SESSION_FRAME.PAKE_CONFIRM, { confirm: Buffer.from(result.confirmation).toString('hex') }));
  const outcome = await link.router.next(SESSION_FRAME.PAKE_RESULT, STEP_TIMEOUT_MS);
  if (!outcome.ok) throw new EngineError(outcome.code ?? 'WRONG_CODE', outcome.message ?? WRONG_CODE);
}

/**
 * `claim` is called when the code enterer's first PAKE message arrives: only then
 * is this an attempt at the code (the invite is single use). A link that never
 * starts the exchange (the other side picked another path) uses up nothing. The
 * scrypt of `password` starts at once, so it runs while A computes its own.
 */
export async function pairAsCodeOwner(link: Link, ownPeerId: string, password: string, claim: () => void): Promise<void> {
  const hh = link.channel.handshakeHash;
  const scalar = passwordToScalar(password, hh);
  scalar.catch(() => undefined);
  const first = await link.router.next(SESSION_FRAME.PAKE_A, STEP_TIMEOUT_MS);
  claim();
  const w = await scalar;
  const session = startSpake2({ role: 'B', w, idA: link.peerId, idB: ownPeerId, aad: hh });
  let result;
  try {
    result = session.finish(Buffer.from(first.msg, 'hex'));
  } catch (err) {
    link.channel.write(encodeSessionFrame(SESSION_FRAME.PAKE_RESULT, { ok: false, code: 'PAIRING_FAILED', message: 'Invalid pairing message.' }));
    throw new EngineError('PAIRING_FAILED', `The other device sent an invalid pairing message (${(err as Error).message}).`);
  }
  link.channel.write(encodeSessionFrame(SESSION_FRAME.PAKE_B, { msg: Buffer.from(session.message).toString('hex'), confirm: Buffer.from(result.confirmation).toString('hex') }));
  // A wrong code on A's side ends with PAKE_RESULT instead of PAKE_CONFIRM.
  const confirm = await Promise.race([
    link.router.next(SESSION_FRAME.PAKE_CONFIRM, STEP_TIMEOUT_MS),
    link.router.next(SESSION_FRAME.PAKE_RESULT, STEP_TIMEOUT_MS).then((r) => {
      throw new EngineError(r.code ?? 'WRONG_CODE', r.code === 'WRONG_CODE' ? 'Someone entered a wrong code for this invite. The invite is now closed: create a new one.' : (r.message ?? 'Pairing failed.'));
    }),
  ]);
  if (!result.verifyPeerConfirmation(Buffer.from(confirm.confirm, 'hex'))) {
    link.channel.write(encodeSessionFrame(SESSION_FRAME.PAKE_RESULT, { ok: false, code: 'WRONG_CODE', message: WRONG_CODE }));
    throw new EngineError('WRONG_CODE', 'Someone entered a wrong code for this invite. The invite is now closed: create a new one.');
  }
  link.channel.write(encodeSessionFrame(SESSION_FRAME.PAKE_RESULT, { ok: true }));
}
