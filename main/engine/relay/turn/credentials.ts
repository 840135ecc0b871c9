/**
 * TURN credentials. Two kinds, both long-term credentials on the wire
 * (RFC 8489 §9.2: MESSAGE-INTEGRITY keyed with MD5(username:realm:password)):
 *
 * - static: a username and password the TURN operator configured
 *   (coturn `lt-cred-mech` with `user=name:password`);
 * - time-limited, the "TURN REST API" scheme (draft-uberti-behave-turn-rest-00;
 *   coturn `use-auth-secret` + `static-auth-secret`): username =
 *   `<expiry unix seconds>:<user id>`, password =
 *   base64(HMAC-SHA1(shared secret, username)). A service that knows the secret
 *   (the operator's web backend, or the rendezvous server) mints them; the client
 *   only ever sees the pair, so it treats them like static ones.
 */
import { createHmac } from 'node:crypto';

export interface TurnCredentials {
  username: string;
  password: string;
}

/**
 * Mints REST-API credentials as a server operator would: valid until now +
 * `ttlSec`. `userId` may be empty (the username is then just the expiry).
 * `nowMs` is for tests.
 */
export function restCredentials(secret: string, userId: string, ttlSec = 24 * 3600, nowMs = Date.now()): TurnCredentials & { expiresAt: number } {
  const expiresAt = Math.floor(nowMs / 1000) + Math.max(1, Math.floor(ttlSec));
  const username = userId ? `${expiresAt}:${userId}` : String(expiresAt);
  return { username, password: restPassword(secret, username), expiresAt };
}

/** The REST-API password for a username: base64(HMAC-SHA1(secret, username)). */
export function restPassword(secret: string, username: string): string {
  return createHmac('sha1', secret).update(username, 'utf8').digest('base64');
}

/**
 * When REST-API credentials expire (unix seconds), from the username's first
 * field; undefined for static usernames. A client can use it to ask for new
 * ones before an allocation must be refreshed past that time.
 */
export function restExpiry(username: string): number | undefined {
  const m = /^(\d{9,12})(?::|$)/.exec(username);
  return m ? Number(m[1]) : undefined;
}
