/** Tests for invite codes (invite-code.ts) and the word list (wordlist.ts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  codePassword, completeWord, formatInviteCode, generateSecretWords, INVITE_WORD_COUNT,
  InviteCodeError, parseInviteCode,
} from './invite-code.js';
import { WORDLIST } from './wordlist.js';

const invalidCode = (pattern?: RegExp) => (err: unknown): boolean => {
  assert.ok(err instanceof InviteCodeError, `expected InviteCodeError, got ${String(err)}`);
  assert.equal(err.code, 'INVALID_CODE');
  if (pattern) assert.match(err.message, pattern);
  return true;
};

test('wordlist: 256 distinct lowercase words of 3–8 letters with distinct 3-letter prefixes', () => {
  assert.equal(WORDLIST.length, 256);
  assert.equal(new Set(WORDLIST).size, 256);
  for (const w of WORDLIST) assert.match(w, /^[a-z]{3,8}$/);
  assert.equal(new Set(WORDLIST.map((w) => w.slice(0, 3))).size, 256);
  assert.ok(Object.isFrozen(WORDLIST));
});

test('every word completes from its 3-letter prefix and from itself', () => {
  for (const w of WORDLIST) {
    assert.equal(completeWord(w.slice(0, 3)), w);
    assert.equal(completeWord(w), w);
    assert.equal(completeWord(w.toUpperCase()), w);
  }
  assert.equal(completeWord('ve'), undefined);
  assert.equal(completeWord('velvets'), undefined);
});

test('generateSecretWords: 3 words from the list by default, uniform-looking', () => {
  const words = generateSecretWords();
  assert.equal(words.length, INVITE_WORD_COUNT);
  for (const w of words) assert.ok(WORDLIST.includes(w));
  assert.equal(generateSecretWords(5).length, 5);
  const seen = new Set<string>();
  for (let i = 0; i < 500; i++) for (const w of generateSecretWords()) seen.add(w);
  assert.ok(seen.size > 230, `only ${seen.size} distinct words in 1500 draws`);
  for (const bad of [0, -1, 1.5, 17, NaN]) assert.throws(() => generateSecretWords(bad), RangeError);
});

test('formatInviteCode', () => {
  assert.equal(formatInviteCode(7, ['velvet', 'harbor', 'orbit']), '7-velvet-harbor-orbit');
  assert.equal(formatInviteCode(123456, ['acorn', 'zoom', 'yoga']), '123456-acorn-zoom-yoga');
  for (const n of [0, -1, 1.5, NaN, 1_000_000, Infinity]) {
    assert.throws(() => formatInviteCode(n, ['velvet', 'harbor', 'orbit']), invalidCode());
  }
  assert.throws(() => formatInviteCode(7, []), invalidCode());
  assert.throws(() => formatInviteCode(7, ['velvet', 'harbour', 'orbit']), invalidCode(/“harbour”/));
  assert.throws(() => formatInviteCode(7, ['Velvet', 'harbor', 'orbit']), invalidCode());
});

test('parseInviteCode is forgiving', () => {
  const inputs = [
    '7-velvet-harbor-orbit',
    '  7-velvet-harbor-orbit\n',
    '7 Velvet Harbor ORBIT',
    '7 - velvet - harbor - orbit',
    '007-velvet-harbor-orbit',
    '7-vel-har-orb',
    '7 velv harbo orbi',
    '7—velvet–harbor-orbit',
    '7_velvet.harbor, orbit',
    '7\tvelvet  harbor\u00a0orbit',
    '-7-velvet-harbor-orbit-',
  ];
  for (const input of inputs) {
    const parsed = parseInviteCode(input);
    assert.equal(parsed.nameplate, 7, input);
    assert.deepEqual(parsed.words, ['velvet', 'harbor', 'orbit'], input);
    assert.equal(parsed.normalized, '7-velvet-harbor-orbit', input);
    assert.equal(codePassword(parsed), '7-velvet-harbor-orbit');
  }
});

test('parseInviteCode errors say what is wrong and what to do', () => {
  const cases: Array<[string, RegExp]> = [
    ['', /Enter the invite code/],
    ['   ', /Enter the invite code/],
    ['velvet-harbor-orbit', /starts with a number.*“velvet”.*sender's screen/],
    ['7velvet-harbor-orbit', /hyphen or a space/],
    ['7', /no words after the number.*should have 3/],
    ['7-velvet', /only 1 word.*should have 3/],
    ['7-velvet-harbor', /2 words.*should have 3/],
    ['7-velvet-harbor-orbit-zoom', /4 words.*should have 3/],
    ['7-velvex-harbor-orbit', /“velvex” is not a word Postern uses in codes; check the code on the sender's screen/],
    ['7-velvet-harbour-orbit', /“harbour” is not a word/],
    ['7-ve-harbor-orbit', /“ve” is too short.*3 letters/],
    ['7-v3lvet-harbor-orbit', /“v3lvet” is not part of a Postern code/],
    ['7-velvet-harbor-örbit', /“örbit”/],
    ['0-velvet-harbor-orbit', /“0” is not a valid code number/],
    ['12345678-velvet-harbor-orbit', /not a valid code number/],
    ['1000000-velvet-harbor-orbit', /not a valid code number/],
  ];
  for (const [input, pattern] of cases) {
    assert.throws(() => parseInviteCode(input), invalidCode(pattern), JSON.stringify(input));
  }
  assert.throws(() => parseInviteCode(undefined as unknown as string), invalidCode());
  assert.throws(() => parseInviteCode(42 as unknown as string), invalidCode());
});

test('long junk is truncated in messages', () => {
  assert.throws(() => parseInviteCode(`7-${'x'.repeat(500)}-harbor-orbit`), (err: unknown) => {
    assert.ok(err instanceof InviteCodeError);
    assert.ok(err.message.length < 200);
    return true;
  });
});

test('format → parse round-trips for random codes', () => {
  for (let i = 0; i < 300; i++) {
    const nameplate = 1 + Math.floor(Math.random() * 999_999);
    const words = generateSecretWords();
    const code = formatInviteCode(nameplate, words);
    const parsed = parseInviteCode(code);
    assert.equal(parsed.nameplate, nameplate);
    assert.deepEqual(parsed.words, words);
    assert.equal(parsed.normalized, code);
    const abbreviated = `${nameplate} ${words.map((w) => w.slice(0, 3).toUpperCase()).join(' ')}`;
    assert.equal(parseInviteCode(abbreviated).normalized, code);
  }
});

test('parseInviteCode honours a custom word count', () => {
  assert.equal(parseInviteCode('3-acorn-zoom', 2).normalized, '3-acorn-zoom');
  assert.throws(() => parseInviteCode('3-acorn-zoom-yoga', 2), invalidCode(/should have 2/));
});
