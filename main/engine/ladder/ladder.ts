/**
 * The connection ladder: tries every tier that applies to reach a peer, in order
 * of preference, and ends on the first that yields an authenticated channel.
 *
 * Tiers plug in as `TierStrategy` objects (lan and direct dial TCP; reverse asks
 * the peer to dial back; later issues add punching, mapped ports and relays).
 * Strategies start one after another; each gets a head start (`headStartMs`)
 * after which the next one starts too, happy-eyeballs style, so a slow tier does
 * not hold up a fast one. The first to succeed wins and the others are aborted.
 * Every attempt reports `trying`, then `ok`, `failed` or `skipped`, with a reason.
 */
import { randomBytes } from 'node:crypto';
import type { ConnectedTier, TierAttempt } from '../../../shared/domain/connection.js';
import type { FramedChannel } from '../channel/framed-channel.js';
import { EngineError, errorCode, errorMessage } from '../errors.js';

export interface TierStrategy<Ctx, R extends { channel: FramedChannel } = { channel: FramedChannel }> {
  tier: ConnectedTier;
  /** Start the next strategy if this one has not finished after this long. @default Infinity */
  headStartMs?: number;
  /** Returns null when the tier applies, or the reason it is skipped. */
  skipReason(ctx: Ctx): string | null;
  /** Resolve with an authenticated channel, or reject with a reason. Must honour `signal`. */
  attempt(ctx: Ctx, signal: AbortSignal, report: (target: string) => void): Promise<R>;
}

export interface LadderResult<R> {
  tier: ConnectedTier;
  link: R;
  attempts: TierAttempt[];
  ms: number;
}

export interface LadderOptions<R> {
  /**
   * When the winner is a relay, the direct attempts still running go on, and one
   * that succeeds later is handed here (start relayed, then upgrade).
   */
  onUpgrade?: (tier: ConnectedTier, link: R) => void;
  /**
   * A link that connected after the winner. The other side has already taken it
   * as a session, so it must go through the same choice there and here (the node
   * keeps one link per peer by a rule both sides apply), not be dropped here only.
   */
  onExtraLink?: (link: R) => void;
}

/** Failure codes that explain a whole failed ladder, in order of precedence. */
const DECISIVE_CODES = ['DOUBLE_RANDOM'];

const RELAY_TIERS: ReadonlySet<ConnectedTier> = new Set(['server-relay', 'peer-relay']);
export const isRelayTier = (tier: ConnectedTier | string | null | undefined): boolean => !!tier && RELAY_TIERS.has(tier as ConnectedTier);

export async function runLadder<Ctx, R extends { channel: FramedChannel }>(
  ctx: Ctx,
  strategies: TierStrategy<Ctx, R>[],
  onAttempt: (attempt: TierAttempt) => void,
  outerSignal?: AbortSignal,
  options: LadderOptions<R> = {},
): Promise<LadderResult<R>> {
  const ladderId = randomBytes(6).toString('hex');
  const started = performance.now();
  const startedAt = Date.now();
  const attempts: TierAttempt[] = [];
  const failureCodes = new Set<string>();
  const abort = new AbortController();
  const onOuterAbort = () => abort.abort(outerSignal?.reason);
  outerSignal?.addEventListener('abort', onOuterAbort, { once: true });

  const record = (tier: ConnectedTier, state: TierAttempt['state'], reason: string, target?: string) => {
    const attempt: TierAttempt = { ladderId, tier, state, reason, startedAt, ms: Math.round(performance.now() - started), ...(target ? { target } : {}) };
    attempts.push(attempt);
    onAttempt(attempt);
  };

  try {
    return await new Promise<LadderResult<R>>((resolve, reject) => {
      let winner: LadderResult<R> | undefined;
      let running = 0;
      let next = 0;
      let headTimer: NodeJS.Timeout | undefined;

      const finishIfDone = () => {
        if (winner || running > 0 || next < strategies.length) return;
        const reasons = attempts.filter((a) => a.state === 'failed').map((a) => `${a.tier}: ${a.reason}`);
        // A verdict that explains everything (e.g. two random NATs) becomes the error's code.
        const code = DECISIVE_CODES.find((c) => failureCodes.has(c)) ?? 'ALL_TIERS_FAILED';
        reject(new EngineError(code, reasons.length ? `No way through to the other device. ${reasons.join('; ')}.` : 'No connection method applies to this device.'));
      };

      const startNext = () => {
        clearTimeout(headTimer);
        while (!winner && next < strategies.length) {
          const strategy = strategies[next++] as TierStrategy<Ctx, R>;
          const skip = strategy.skipReason(ctx);
          if (skip !== null) {
            record(strategy.tier, 'skipped', skip);
            continue;
          }
          launch(strategy);
          if (strategy.headStartMs !== undefined && Number.isFinite(strategy.headStartMs)) {
            headTimer = setTimeout(startNext, strategy.headStartMs);
          }
          return;
        }
        finishIfDone();
      };

      const launch = (strategy: TierStrategy<Ctx, R>) => {
        running++;
        let target: string | undefined;
        record(strategy.tier, 'trying', 'trying', undefined);
        strategy.attempt(ctx, abort.signal, (t) => { target = t; }).then(
          (link) => {
            running--;
            if (winner && isRelayTier(winner.tier) && !isRelayTier(strategy.tier) && options.onUpgrade && !abort.signal.aborted) {
              record(strategy.tier, 'ok', `upgraded from ${winner.tier}${target ? `: connected to ${target}` : ''}`, target);
              options.onUpgrade(strategy.tier, link);
              return;
            }
            if (winner || abort.signal.aborted) {
              if (options.onExtraLink) options.onExtraLink(link);
              else link.channel.close();
              return;
            }
            winner = { tier: strategy.tier, link, attempts, ms: Math.round(performance.now() - started) };
            record(strategy.tier, 'ok', target ? `connected to ${target}` : 'connected', target);
            clearTimeout(headTimer);
            // A relay wins only for now: direct attempts go on and may upgrade it.
            if (!(isRelayTier(strategy.tier) && options.onUpgrade)) abort.abort(new EngineError('SUPERSEDED', 'another tier connected first'));
            resolve(winner);
          },
          (err) => {
            running--;
            if (winner) {
              if (isRelayTier(winner.tier) && !abort.signal.aborted) record(strategy.tier, 'failed', errorMessage(err), target);
              else record(strategy.tier, 'skipped', `stopped: ${strategy.tier === winner.tier ? 'duplicate' : `${winner.tier} connected first`}`, target);
              return;
            }
            if (abort.signal.aborted) {
              record(strategy.tier, 'failed', 'cancelled', target);
              finishIfDone();
              return;
            }
            record(strategy.tier, 'failed', errorMessage(err), target);
            failureCodes.add(errorCode(err));
            // A failure hands over to the next tier at once, head start or not.
            if (next < strategies.length) startNext();
            else finishIfDone();
          },
        );
      };

      abort.signal.addEventListener('abort', () => {
        if (!winner) {
          clearTimeout(headTimer);
          reject(new EngineError('CANCELLED', 'The connection attempt was cancelled.'));
        }
      }, { once: true });

      startNext();
    });
  } finally {
    outerSignal?.removeEventListener('abort', onOuterAbort);
  }
}
