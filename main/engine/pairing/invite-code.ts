/**
 * Invite codes for pairing, e.g. `7-velvet-harbor-orbit`.
 *
 * - The nameplate (`7`) is public: the rendezvous server allocates it and uses it only
 *   to route the two peers to each other. This module formats and parses it, nothing more.
 * - The words are the secret: 3 words from the 256-word list in wordlist.ts, chosen with
 *   a CSPRNG, i.e. 24 bits. They are never sent anywhere; the whole normalized code is
 *   the password of the SPAKE2 exchange (RFC 9382, see spake2.ts), so an attacker gets
 *   one online guess per code and learns nothing offline.
 *
 * Parsing is forgiving (case, surrounding space, spaces or hyphens or dashes between
 * parts, unique 3-letter-or-longer prefixes of words) and fails with an `InviteCodeError`
 * (`code: 'INVALID_CODE'`) whose message says what is wrong and what to do.
 */
import { randomBytes } from '@noble/hashes/utils.js';
import { WORDLIST } from './wordlist.js';

/** Number of secret words in a code (3 × 8 bits = 24 bits). */
export const INVITE_WORD_COUNT = 3;
/** Largest nameplate this module accepts: codes stay short enough to read aloud. */
export const MAX_NAMEPLATE = 999_999;

export class InviteCodeError extends Error {
  override readonly name = 'InviteCodeError';
  readonly code = 'INVALID_CODE' as const;
}

export interface ParsedInviteCode {
  /** Public routing number allocated by the rendezvous server. */
  readonly nameplate: number;
  /** The secret words, lowercase, fully spelled out. */
  readonly words: readonly string[];
  /** Canonical form, e.g. "7-velvet-harbor-orbit". */
  readonly normalized: string;
}

const WORD_SET: ReadonlySet<string> = new Set(WORDLIST);
const CHECK_HINT = "check the code on the sender's screen";

/** `count` words chosen uniformly at random (one CSPRNG byte per word; the list has 256). */
export function generateSecretWords(count: number = INVITE_WORD_COUNT): string[] {
  if (!Number.isInteger(count) || count < 1 || count > 16) {
    throw new RangeError('word count must be an integer from 1 to 16');
  }
  if (WORDLIST.length !== 256) throw new Error('wordlist must have exactly 256 words');
  const bytes = randomBytes(count);
  const words = Array.from(bytes, (b) => WORDLIST[b]!);
  bytes.fill(0);
  return words;
}

/** "7-velvet-harbor-orbit". Throws `InviteCodeError` on an invalid nameplate or word. */
export function formatInviteCode(nameplate: number, words: readonly string[]): string {
  checkNameplate(nameplate);
  if (!Array.isArray(words) || words.length === 0) {
    throw new InviteCodeError('An invite code needs at least one word after the number.');
  }
  for (const word of words) {
    if (typeof word !== 'string' || !WORD_SET.has(word)) {
      throw new InviteCodeError(`${quote(String(word))} is not a word Postern uses in codes.`);
    }
  }
  return [String(nameplate), ...words].join('-');
}

/**
 * Parse what a person typed or pasted. Accepts `7-velvet-harbor-orbit`,
 * ` 7 Velvet Harbor Orbit `, `7-vel-har-orb`, `007 velvet—harbor–orbit`.
 */
export function parseInviteCode(input: string, wordCount: number = INVITE_WORD_COUNT): ParsedInviteCode {
  if (typeof input !== 'string' || input.trim() === '') {
    throw new InviteCodeError(
      "Enter the invite code shown on the sender's screen, a number and three words like 7-velvet-harbor-orbit.",
    );
  }
  const parts = input.trim().toLowerCase().split(/[\s\-‐‑‒–—―_.,]+/u).filter((p) => p !== '');
  const [first = '', ...rest] = parts;

  if (/^\d+[a-z]/.test(first)) {
    throw new InviteCodeError(
      'Put a hyphen or a space between the number and the words, like 7-velvet-harbor-orbit.',
    );
  }
  if (!/^\d+$/.test(first)) {
    throw new InviteCodeError(
      `An invite code starts with a number, like 7-velvet-harbor-orbit, but this one starts with ${quote(first)}; ${CHECK_HINT}.`,
    );
  }
  const nameplate = Number(first);
  if (first.length > 7 || nameplate < 1 || nameplate > MAX_NAMEPLATE) {
    throw new InviteCodeError(`${quote(first)} is not a valid code number; ${CHECK_HINT}.`);
  }

  if (rest.length !== wordCount) {
    const found = rest.length === 0 ? 'no words' : rest.length === 1 ? 'only 1 word' : `${rest.length} words`;
    throw new InviteCodeError(
      `The code has ${found} after the number, but it should have ${wordCount}; ${CHECK_HINT}.`,
    );
  }

  const words = rest.map(resolveWord);
  return { nameplate, words, normalized: [String(nameplate), ...words].join('-') };
}

/** The password fed into SPAKE2: the full normalized code (nameplate included). */
export function codePassword(parsed: ParsedInviteCode): string {
  return parsed.normalized;
}

/** Complete a typed word: an exact word, or a prefix of ≥ 3 letters that only one word starts with. */
export function completeWord(typed: string): string | undefined {
  const t = typed.toLowerCase();
  if (WORD_SET.has(t)) return t;
  if (t.length < 3) return undefined;
  const matches = WORDLIST.filter((w) => w.startsWith(t));
  return matches.length === 1 ? matches[0] : undefined;
}

function resolveWord(part: string): string {
  if (!/^[a-z]+$/.test(part)) {
    throw new InviteCodeError(
      `${quote(part)} is not part of a Postern code: after the number, codes have only words made of letters; ${CHECK_HINT}.`,
    );
  }
  const word = completeWord(part);
  if (word !== undefined) return word;
  if (part.length < 3) {
    throw new InviteCodeError(`${quote(part)} is too short: type at least the first 3 letters of each word.`);
  }
  throw new InviteCodeError(`${quote(part)} is not a word Postern uses in codes; ${CHECK_HINT}.`);
}

function checkNameplate(n: number): void {
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_NAMEPLATE) {
    throw new InviteCodeError(`The code number must be a whole number from 1 to ${MAX_NAMEPLATE}.`);
  }
}

function quote(s: string): string {
  const shown = s.length > 24 ? `${s.slice(0, 24)}…` : s;
  return `“${shown}”`;
}
