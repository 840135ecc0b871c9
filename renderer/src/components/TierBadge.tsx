/** The connection ladder's tier as a small labelled badge (`lan`, `direct`, … `failed`). */
import { TIER_LABEL, type Tier } from '../../../shared/domain/connection.js';

export function TierBadge({ tier }: { tier: Tier | null }) {
  if (!tier) return null;
  return <span className={`badge tier tier-${tier}`} title={`Connected by tier "${tier}"`}>{TIER_LABEL[tier]}</span>;
}
