import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { base64Decode, base64Encode, sha256, utf8Decode, utf8Encode } from './encoding.js';

test('sha256 matches node:crypto for lengths around every padding boundary', () => {
  for (const length of [0, 1, 3, 55, 56, 57, 63, 64, 65, 119, 120, 1000, 70_000]) {
    const bytes = randomBytes(length);
    assert.equal(Buffer.from(sha256(bytes)).toString('hex'), createHash('sha256').update(bytes).digest('hex'), `length ${length}`);
  }
  assert.equal(Buffer.from(sha256(new TextEncoder().encode('abc'))).toString('hex'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
});

test('base64 round-trips and matches Buffer', () => {
  for (const length of [0, 1, 2, 3, 4, 5, 51, 300]) {
    const bytes = randomBytes(length);
    const text = bytes.toString('base64');
    assert.equal(base64Encode(bytes), text);
    assert.deepEqual(Buffer.from(base64Decode(text)), bytes);
    assert.deepEqual(Buffer.from(base64Decode(text.replace(/=+$/, ''))), bytes);
  }
  assert.throws(() => base64Decode('ab$d'), /not base64/);
});

test('UTF-8 matches TextEncoder/TextDecoder, malformed input included', () => {
  for (const text of ['', 'plain ascii', 'héllo wörld', '日本語のテキスト', 'emoji 🛟 and 𝄞', '\u0000\u007f\u0080\u07ff\u0800\uffff', 'x'.repeat(20_000)]) {
    assert.deepEqual(Buffer.from(utf8Encode(text)), Buffer.from(new TextEncoder().encode(text)), text.slice(0, 20));
    assert.equal(utf8Decode(new TextEncoder().encode(text)), text);
  }
  assert.deepEqual(Buffer.from(utf8Encode('a\ud800b')), Buffer.from(new TextEncoder().encode('a\ud800b')), 'lone surrogate');
  for (const bytes of [[0xff], [0xc3], [0xe2, 0x82], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0x61, 0xf4, 0x90, 0x80, 0x80, 0x62]]) {
    assert.equal(utf8Decode(Uint8Array.from(bytes)), new TextDecoder().decode(Uint8Array.from(bytes)), bytes.join(','));
  }
});
