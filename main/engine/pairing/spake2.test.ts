/**
 * Tests for the SPAKE2 implementation (RFC 9382, SPAKE2-P256-SHA256-HKDF-HMAC).
 *
 * VECTORS are the four P-256 test vectors of RFC 9382 Appendix B (identities
 * A='server'/B='client', A=''/B='client', A='server'/B='', A=''/B=''), every
 * value the RFC gives: w, x, y, pA, pB, K, TT, Ke, Ka, KcA, KcB, A conf, B conf.
 * Only w, x and y are inputs; everything else is recomputed and compared.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { p256 } from '@noble/curves/nist.js';
import {
  buildTranscript, computeK, computeShare, confirmationMac, keySchedule, passwordToScalar,
  Spake2Error, startSpake2, startSpake2WithScalar, type Spake2Session,
} from './spake2.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const unhex = (h: string): Uint8Array => new Uint8Array(Buffer.from(h, 'hex'));
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const ORDER = p256.Point.Fn.ORDER;

const VECTORS = [
  {
    A: 'server',
    B: 'client',
    w: '2ee57912099d31560b3a44b1184b9b4866e904c49d12ac5042c97dca461b1a5f',
    x: '43dd0fd7215bdcb482879fca3220c6a968e66d70b1356cac18bb26c84a78d729',
    y: 'dcb60106f276b02606d8ef0a328c02e4b629f84f89786af5befb0bc75b6e66be',
    pA: '04a56fa807caaa53a4d28dbb9853b9815c61a411118a6fe516a8798434751470f9010153ac33d0d5f2047ffdb1a3e42c9b4e6be662766e1eeb4116988ede5f912c',
    pB: '0406557e482bd03097ad0cbaa5df82115460d951e3451962f1eaf4367a420676d09857ccbc522686c83d1852abfa8ed6e4a1155cf8f1543ceca528afb591a1e0b7',
    K: '0412af7e89717850671913e6b469ace67bd90a4df8ce45c2af19010175e37eed69f75897996d539356e2fa6a406d528501f907e04d97515fbe83db277b715d3325',
    TT: '06000000000000007365727665720600000000000000636c69656e74410000000000000004a56fa807caaa53a4d28dbb9853b9815c61a411118a6fe516a8798434751470f9010153ac33d0d5f2047ffdb1a3e42c9b4e6be662766e1eeb4116988ede5f912c41000000000000000406557e482bd03097ad0cbaa5df82115460d951e3451962f1eaf4367a420676d09857ccbc522686c83d1852abfa8ed6e4a1155cf8f1543ceca528afb591a1e0b741000000000000000412af7e89717850671913e6b469ace67bd90a4df8ce45c2af19010175e37eed69f75897996d539356e2fa6a406d528501f907e04d97515fbe83db277b715d332520000000000000002ee57912099d31560b3a44b1184b9b4866e904c49d12ac5042c97dca461b1a5f',
    Ke: '0e0672dc86f8e45565d338b0540abe69',
    Ka: '15bdf72e2b35b5c9e5663168e960a91b',
    KcA: '00c12546835755c86d8c0db7851ae86f',
    KcB: 'a9fa3406c3b781b93d804485430ca27a',
    Aconf: '58ad4aa88e0b60d5061eb6b5dd93e80d9c4f00d127c65b3b35b1b5281fee38f0',
    Bconf: 'd3e2e547f1ae04f2dbdbf0fc4b79f8ecff2dff314b5d32fe9fcef2fb26dc459b',
  },
  {
    A: '',
    B: 'client',
    w: '0548d8729f730589e579b0475a582c1608138ddf7054b73b5381c7e883e2efae',
    x: '403abbe3b1b4b9ba17e3032849759d723939a27a27b9d921c500edde18ed654b',
    y: '903023b6598908936ea7c929bd761af6039577a9c3f9581064187c3049d87065',
    pA: '04a897b769e681c62ac1c2357319a3d363f610839c4477720d24cbe32f5fd85f44fb92ba966578c1b712be6962498834078262caa5b441ecfa9d4a9485720e918a',
    pB: '04e0f816fd1c35e22065d5556215c097e799390d16661c386e0ecc84593974a61b881a8c82327687d0501862970c64565560cb5671f696048050ca66ca5f8cc7fc',
    K: '048f83ec9f6e4f87cc6f9dc740bdc2769725f923364f01c84148c049a39a735ebda82eac03e00112fd6a5710682767cff5361f7e819e53d8d3c3a2922e0d837aa6',
    TT: '00000000000000000600000000000000636c69656e74410000000000000004a897b769e681c62ac1c2357319a3d363f610839c4477720d24cbe32f5fd85f44fb92ba966578c1b712be6962498834078262caa5b441ecfa9d4a9485720e918a410000000000000004e0f816fd1c35e22065d5556215c097e799390d16661c386e0ecc84593974a61b881a8c82327687d0501862970c64565560cb5671f696048050ca66ca5f8cc7fc4100000000000000048f83ec9f6e4f87cc6f9dc740bdc2769725f923364f01c84148c049a39a735ebda82eac03e00112fd6a5710682767cff5361f7e819e53d8d3c3a2922e0d837aa620000000000000000548d8729f730589e579b0475a582c1608138ddf7054b73b5381c7e883e2efae',
    Ke: '642f05c473c2cd79909f9a841e2f30a7',
    Ka: '0bf89b18180af97353ba198789c2b963',
    KcA: 'c6be376fc7cd1301fd0a13adf3e7bffd',
    KcB: 'b7243f4ae60440a49b3f8cab3c1fba07',
    Aconf: '47d29e6666af1b7dd450d571233085d7a9866e4d49d2645e2df975489521232b',
    Bconf: '3313c5cefc361d27fb16847a91c2a73b766ffa90a4839122a9b70a2f6bd1d6df',
  },
  {
    A: 'server',
    B: '',
    w: '626e0cdc7b14c9db3e52a0b1b3a768c98e37852d5db30febe0497b14eae8c254',
    x: '07adb3db6bc623d3399726bfdbfd3d15a58ea776ab8a308b00392621291f9633',
    y: 'b6a4fc8dbb629d4ba51d6f91ed1532cf87adec98f25dd153a75accafafedec16',
    pA: '04f88fb71c99bfffaea370966b7eb99cd4be0ff1a7d335caac4211c4afd855e2e15a873b298503ad8ba1d9cbb9a392d2ba309b48bfd7879aefd0f2cea6009763b0',
    pB: '040c269d6be017dccb15182ac6bfcd9e2a14de019dd587eaf4bdfd353f031101e7cca177f8eb362a6e83e7d5e729c0732e1b528879c086f39ba0f31a9661bd34db',
    K: '0445ee233b8ecb51ebd6e7da3f307e88a1616bae2166121221fdc0dadb986afaf3ec8a988dc9c626fa3b99f58a7ca7c9b844bb3e8dd9554aafc5b53813504c1cbe',
    TT: '06000000000000007365727665720000000000000000410000000000000004f88fb71c99bfffaea370966b7eb99cd4be0ff1a7d335caac4211c4afd855e2e15a873b298503ad8ba1d9cbb9a392d2ba309b48bfd7879aefd0f2cea6009763b04100000000000000040c269d6be017dccb15182ac6bfcd9e2a14de019dd587eaf4bdfd353f031101e7cca177f8eb362a6e83e7d5e729c0732e1b528879c086f39ba0f31a9661bd34db41000000000000000445ee233b8ecb51ebd6e7da3f307e88a1616bae2166121221fdc0dadb986afaf3ec8a988dc9c626fa3b99f58a7ca7c9b844bb3e8dd9554aafc5b53813504c1cbe2000000000000000626e0cdc7b14c9db3e52a0b1b3a768c98e37852d5db30febe0497b14eae8c254',
    Ke: '005184ff460da2ce59062c87733c299c',
    Ka: '3521297d736598fc0a1127600efa1afb',
    KcA: 'f3da53604f0aeecea5a33be7bddf6edf',
    KcB: '9e3f86848736f159bd92b6e107ec6799',
    Aconf: 'bc9f9bbe99f26d0b2260e6456e05a86196a3307ec6663a18bf6ac825736533b2',
    Bconf: 'c2370e1bf813b086dff0d834e74425a06e6390f48f5411900276dcccc5a297ec',
  },
  {
    A: '',
    B: '',
    w: '7bf46c454b4c1b25799527d896508afd5fc62ef4ec59db1efb49113063d70cca',
    x: '8cef65df64bb2d0f83540c53632de911b5b24b3eab6cc74a97609fd659e95473',
    y: 'd7a66f64074a84652d8d623a92e20c9675c61cb5b4f6a0063e4648a2fdc02d53',
    pA: '04a65b367a3f613cf9f0654b1b28a1e3a8a40387956c8ba6063e8658563890f46ca1ef6a676598889fc28de2950ab8120b79a5ef1ea4c9f44bc98f585634b46d66',
    pB: '04589f13218822710d98d8b2123a079041052d9941b9cf88c6617ddb2fcc0494662eea8ba6b64692dc318250030c6af045cb738bc81ba35b043c3dcb46adf6f58d',
    K: '041a3c03d51b452537ca2a1fea6110353c6d5ed483c4f0f86f4492ca3f378d40a994b4477f93c64d928edbbcd3e85a7c709b7ea73ee97986ce3d1438e135543772',
    TT: '00000000000000000000000000000000410000000000000004a65b367a3f613cf9f0654b1b28a1e3a8a40387956c8ba6063e8658563890f46ca1ef6a676598889fc28de2950ab8120b79a5ef1ea4c9f44bc98f585634b46d66410000000000000004589f13218822710d98d8b2123a079041052d9941b9cf88c6617ddb2fcc0494662eea8ba6b64692dc318250030c6af045cb738bc81ba35b043c3dcb46adf6f58d4100000000000000041a3c03d51b452537ca2a1fea6110353c6d5ed483c4f0f86f4492ca3f378d40a994b4477f93c64d928edbbcd3e85a7c709b7ea73ee97986ce3d1438e13554377220000000000000007bf46c454b4c1b25799527d896508afd5fc62ef4ec59db1efb49113063d70cca',
    Ke: 'fc6374762ba5cf11f4b2caa08b2cd1b9',
    Ka: '907ae0e26e8d6234318d91583cd74c86',
    KcA: '5dbd2f477166b7fb6d61febbd77a5563',
    KcB: '7689b4654407a5faeffdc8f18359d8a3',
    Aconf: 'dfb4db8d48ae5a675963ea5e6c19d98d4ea028d8e898dad96ea19a80ade95dca',
    Bconf: 'd0f0609d1613138d354f7e95f19fb556bf52d751947241e8c7118df5ef0ae175',
  },
];

const isSpake2Error = (code: string) => (err: unknown): boolean => {
  assert.ok(err instanceof Spake2Error, `expected Spake2Error, got ${String(err)}`);
  assert.equal(err.code, code);
  return true;
};

for (const v of VECTORS) {
  test(`RFC 9382 Appendix B vector A='${v.A}' B='${v.B}': building blocks`, () => {
    const w = BigInt('0x' + v.w);
    const x = BigInt('0x' + v.x);
    const y = BigInt('0x' + v.y);
    const pA = computeShare('A', w, x);
    const pB = computeShare('B', w, y);
    assert.equal(hex(pA), v.pA);
    assert.equal(hex(pB), v.pB);
    assert.equal(hex(computeK('A', w, x, pB)), v.K);
    assert.equal(hex(computeK('B', w, y, pA)), v.K);
    const tt = buildTranscript({ idA: utf8(v.A), idB: utf8(v.B), pA, pB, K: unhex(v.K), w });
    assert.equal(hex(tt), v.TT);
    const keys = keySchedule(tt);
    assert.equal(hex(keys.ke), v.Ke);
    assert.equal(hex(keys.ka), v.Ka);
    assert.equal(hex(keys.kcA), v.KcA);
    assert.equal(hex(keys.kcB), v.KcB);
    assert.equal(hex(confirmationMac(keys.kcA, tt)), v.Aconf);
    assert.equal(hex(confirmationMac(keys.kcB, tt)), v.Bconf);
  });

  test(`RFC 9382 Appendix B vector A='${v.A}' B='${v.B}': full sessions with injected x, y`, () => {
    const opts = { w: unhex(v.w), idA: v.A, idB: v.B };
    const a = startSpake2WithScalar({ ...opts, role: 'A' }, BigInt('0x' + v.x));
    const b = startSpake2WithScalar({ ...opts, role: 'B' }, BigInt('0x' + v.y));
    assert.equal(hex(a.message), v.pA);
    assert.equal(hex(b.message), v.pB);
    const ra = a.finish(b.message);
    const rb = b.finish(a.message);
    assert.equal(hex(ra.ke), v.Ke);
    assert.equal(hex(rb.ke), v.Ke);
    assert.equal(hex(ra.confirmation), v.Aconf);
    assert.equal(hex(rb.confirmation), v.Bconf);
    assert.equal(ra.verifyPeerConfirmation(rb.confirmation), true);
    assert.equal(rb.verifyPeerConfirmation(ra.confirmation), true);
    // A must not accept its own MAC reflected back (KcA ≠ KcB).
    assert.equal(ra.verifyPeerConfirmation(ra.confirmation), false);
  });
}

function run(wA: bigint, wB: bigint, aadA?: Uint8Array, aadB?: Uint8Array) {
  const a = startSpake2({ role: 'A', w: wA, idA: 'alice', idB: 'bob', aad: aadA });
  const b = startSpake2({ role: 'B', w: wB, idA: 'alice', idB: 'bob', aad: aadB });
  return { ra: a.finish(b.message), rb: b.finish(a.message) };
}

test('random sessions with the same w agree on Ke and confirm each other', () => {
  const aad = utf8('handshake-hash');
  const { ra, rb } = run(12345n, 12345n, aad, aad);
  assert.equal(ra.ke.length, 16);
  assert.deepEqual(ra.ke, rb.ke);
  assert.equal(ra.verifyPeerConfirmation(rb.confirmation), true);
  assert.equal(rb.verifyPeerConfirmation(ra.confirmation), true);
});

test('fresh scalars: two sessions never send the same message', () => {
  const a1 = startSpake2({ role: 'A', w: 7n });
  const a2 = startSpake2({ role: 'A', w: 7n });
  assert.notEqual(hex(a1.message), hex(a2.message));
});

test('wrong password: Ke differs and both confirmations fail', () => {
  const { ra, rb } = run(12345n, 12346n);
  assert.notDeepEqual(ra.ke, rb.ke);
  assert.equal(ra.verifyPeerConfirmation(rb.confirmation), false);
  assert.equal(rb.verifyPeerConfirmation(ra.confirmation), false);
});

test('different AAD (channel binding) makes confirmation fail even with the right password', () => {
  const { ra, rb } = run(99n, 99n, utf8('channel-1'), utf8('channel-2'));
  assert.deepEqual(ra.ke, rb.ke); // AAD only enters the confirmation keys (RFC 9382 §4)
  assert.equal(ra.verifyPeerConfirmation(rb.confirmation), false);
  assert.equal(rb.verifyPeerConfirmation(ra.confirmation), false);
});

test('passwordToScalar: deterministic, salted, in range, and drives a full exchange', async () => {
  const fast = { N: 2 ** 10, r: 8, p: 1 };
  const salt = utf8('postern-test-salt');
  const w1 = await passwordToScalar('7-velvet-harbor-orbit', salt, fast);
  assert.equal(await passwordToScalar('7-velvet-harbor-orbit', salt, fast), w1);
  assert.notEqual(await passwordToScalar('7-velvet-harbor-orbit', utf8('other'), fast), w1);
  assert.notEqual(await passwordToScalar('7-velvet-harbor-olive', salt, fast), w1);
  assert.ok(w1 > 0n && w1 < ORDER);
  const { ra, rb } = run(w1, w1);
  assert.equal(ra.verifyPeerConfirmation(rb.confirmation), true);
  // Default (production) cost parameters work too.
  const wd = await passwordToScalar('7-velvet-harbor-orbit', salt);
  assert.ok(wd > 0n && wd < ORDER && wd !== w1);
  await assert.rejects(passwordToScalar('', salt, fast), isSpake2Error('INVALID_ARGUMENT'));
});

test('malformed, off-curve and identity peer messages throw INVALID_PEER_MESSAGE', () => {
  const w = 4242n;
  const good = startSpake2({ role: 'B', w }).message;
  const offCurve = good.slice(); offCurve[64]! ^= 1;
  const compressed = p256.Point.fromBytes(good).toBytes(true);
  const wrongPrefix = good.slice(); wrongPrefix[0] = 0x06;
  const xTooBig = good.slice(); xTooBig.fill(0xff, 1, 33);
  // The peer sends exactly w·N: pB − w·N is the identity, so K would be I.
  const wN = p256.Point.fromHex('03d8bbd6c639c62937b04d997f38c3770719c629d7014d49a24b4f98baa1292b49')
    .multiply(w).toBytes(false);
  const bad: unknown[] = [
    undefined, null, 'hello', 42, [4, 1, 2], { length: 65 }, new Uint8Array(0), new Uint8Array([0]),
    new Uint8Array(65), compressed, good.slice(0, 64), new Uint8Array([...good, 0]),
    offCurve, wrongPrefix, xTooBig, wN,
  ];
  for (const msg of bad) {
    const a = startSpake2({ role: 'A', w });
    assert.throws(() => a.finish(msg), isSpake2Error('INVALID_PEER_MESSAGE'), `input ${String(msg)}`);
  }
});

test('random garbage never crashes: always a typed error', () => {
  for (let i = 0; i < 200; i++) {
    const msg = new Uint8Array(i % 3 === 0 ? 65 : (i * 7) % 100);
    crypto.getRandomValues(msg);
    if (i % 3 === 0) msg[0] = 4;
    const a = startSpake2({ role: 'A', w: 5n });
    assert.throws(() => a.finish(msg), isSpake2Error('INVALID_PEER_MESSAGE'));
  }
});

test('sessions are single use', () => {
  const a: Spake2Session = startSpake2({ role: 'A', w: 3n });
  const b = startSpake2({ role: 'B', w: 3n });
  a.finish(b.message);
  assert.throws(() => a.finish(b.message), isSpake2Error('INVALID_STATE'));
  const c = startSpake2({ role: 'A', w: 3n });
  assert.throws(() => c.finish(new Uint8Array(3)), isSpake2Error('INVALID_PEER_MESSAGE'));
  assert.throws(() => c.finish(b.message), isSpake2Error('INVALID_STATE')); // a failed attempt burns it
});

test('bad arguments throw INVALID_ARGUMENT', () => {
  const cases: Array<() => unknown> = [
    () => startSpake2({ role: 'A', w: 0n }),
    () => startSpake2({ role: 'A', w: ORDER }),
    () => startSpake2({ role: 'A', w: -1n }),
    () => startSpake2({ role: 'A', w: new Uint8Array(31).fill(1) }),
    () => startSpake2({ role: 'C' as 'A', w: 1n }),
    () => startSpake2({ role: 'A', w: 1n, aad: new Uint8Array(8192) }),
    () => startSpake2({ role: 'A', w: 1n, idA: 5 as unknown as string }),
    () => startSpake2WithScalar({ role: 'A', w: 1n }, 0n),
    () => startSpake2WithScalar({ role: 'B', w: 1n }, ORDER),
  ];
  for (const fn of cases) assert.throws(fn, isSpake2Error('INVALID_ARGUMENT'));
});

test('verifyPeerConfirmation never throws on junk', () => {
  const { ra } = run(8n, 8n);
  for (const junk of [undefined, null, 'mac', 1, new Uint8Array(0), new Uint8Array(31), new Uint8Array(32)]) {
    assert.equal(ra.verifyPeerConfirmation(junk), false);
  }
});

test('the session keeps private copies of its message and AAD', () => {
  const aad = utf8('binding');
  const a = startSpake2({ role: 'A', w: 11n, aad });
  const b = startSpake2({ role: 'B', w: 11n, aad: utf8('binding') });
  const sentA = a.message.slice();
  a.message.fill(0); // caller wipes its buffer after sending
  aad.fill(0);
  const ra = a.finish(b.message);
  const rb = b.finish(sentA);
  assert.equal(ra.verifyPeerConfirmation(rb.confirmation), true);
  assert.equal(rb.verifyPeerConfirmation(ra.confirmation), true);
});
