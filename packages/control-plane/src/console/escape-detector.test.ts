import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { EscapeDetector } from './escape-detector.js';

function run(...chunks: string[]): { sent: string; detached: boolean } {
  const detector = new EscapeDetector();
  let sent = '';
  for (const chunk of chunks) {
    const { forward, detach } = detector.feed(Buffer.from(chunk));
    sent += forward.toString();
    if (detach) return { sent, detached: true };
  }
  return { sent, detached: false };
}

describe('the ~. escape', () => {
  it('detaches on ~. at the start of the input or of a line, keeping what came before', () => {
    assert.deepEqual(run('~.'), { sent: '', detached: true });
    assert.deepEqual(run('ls\r~.after'), { sent: 'ls\r', detached: true });
    assert.deepEqual(run('ls\n', '~', '.'), { sent: 'ls\n', detached: true });
  });

  it('passes a tilde inside a line, ~~ as one tilde, and ~x as both bytes', () => {
    assert.deepEqual(run('cd ~.'), { sent: 'cd ~.', detached: false });
    assert.deepEqual(run('~~.'), { sent: '~.', detached: false });
    assert.deepEqual(run('~x', '\r~/bin'), { sent: '~x\r~/bin', detached: false });
  });

  it('holds a tilde that ends a chunk until the next byte decides', () => {
    const detector = new EscapeDetector();
    assert.equal(detector.feed(Buffer.from('~')).forward.length, 0);
    assert.equal(detector.feed(Buffer.from('a')).forward.toString(), '~a');
  });
});
