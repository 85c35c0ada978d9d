import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LeaveChord, type ChordKey } from './leave-chord.js';

/** Plays key events with the modifier flags a browser sets (a key-up reads its own flag as false). */
function keyboard() {
  const chord = new LeaveChord();
  const held = new Set<string>();
  const flags = (): Omit<ChordKey, 'code'> => ({
    ctrlKey: [...held].some((c) => c.startsWith('Control')),
    altKey: [...held].some((c) => c.startsWith('Alt')),
    shiftKey: [...held].some((c) => c.startsWith('Shift')),
    metaKey: false,
    altGraph: held.has('AltGraph'),
  });
  return {
    down(code: string) {
      held.add(code);
      return chord.down({ code, ...flags() });
    },
    up(code: string) {
      held.delete(code);
      return chord.up({ code, ...flags() });
    },
  };
}

describe('the chord that leaves the desktop\'s screen', () => {
  it('holds back the key that completes Ctrl+Alt+Shift, and leaves once every key is up', () => {
    const keys = keyboard();
    assert.deepEqual(keys.down('ControlLeft'), { holdBack: false, send: [], leave: false });
    assert.deepEqual(keys.down('AltLeft'), { holdBack: false, send: [], leave: false });
    assert.deepEqual(keys.down('ShiftLeft'), { holdBack: true, send: [], leave: false });
    // The held-back key's up stays with the page; the others' reach the desktop, which saw them go down.
    assert.deepEqual(keys.up('ShiftLeft'), { holdBack: true, send: [], leave: false });
    assert.deepEqual(keys.up('AltLeft'), { holdBack: false, send: [], leave: false });
    assert.deepEqual(keys.up('ControlLeft'), { holdBack: false, send: [], leave: true });
    // And it is over: the next keys are the desktop's.
    assert.deepEqual(keys.down('KeyA'), { holdBack: false, send: [], leave: false });
  });

  it('leaves whatever the order of the keys', () => {
    const keys = keyboard();
    keys.down('ShiftRight');
    keys.down('ControlRight');
    assert.equal(keys.down('AltLeft').holdBack, true);
    assert.equal(keys.up('ShiftRight').holdBack, false);
    assert.equal(keys.up('ControlRight').leave, false);
    assert.deepEqual(keys.up('AltLeft'), { holdBack: true, send: [], leave: true });
  });

  it('gives a shortcut of the desktop its held-back modifier: Ctrl+Alt+Shift+T reaches it whole', () => {
    const keys = keyboard();
    keys.down('ControlLeft');
    keys.down('AltLeft');
    assert.equal(keys.down('ShiftLeft').holdBack, true);
    assert.deepEqual(keys.down('KeyT'), { holdBack: false, send: [{ code: 'ShiftLeft', down: true }], leave: false });
    assert.deepEqual(keys.up('KeyT'), { holdBack: false, send: [], leave: false });
    assert.deepEqual(keys.up('ShiftLeft'), { holdBack: true, send: [{ code: 'ShiftLeft', down: false }], leave: false });
    assert.deepEqual(keys.up('AltLeft'), { holdBack: false, send: [], leave: false });
    assert.deepEqual(keys.up('ControlLeft'), { holdBack: false, send: [], leave: false });
  });

  it('sends nothing back for a key pressed after the held-back one was released', () => {
    const keys = keyboard();
    keys.down('ControlLeft');
    keys.down('AltLeft');
    keys.down('ShiftLeft');
    keys.up('ShiftLeft');
    assert.deepEqual(keys.down('KeyT'), { holdBack: false, send: [], leave: false });
    assert.deepEqual(keys.up('ControlLeft').leave, false);
  });

  it('is not AltGr+Shift (AltGr reads as Ctrl+Alt on Windows), nor a chord with the Meta key', () => {
    const keys = keyboard();
    keys.down('AltGraph');
    keys.down('ControlLeft');
    keys.down('AltRight');
    assert.equal(keys.down('ShiftLeft').holdBack, false);
    const chord = new LeaveChord();
    assert.equal(chord.down({ code: 'ShiftLeft', ctrlKey: true, altKey: true, shiftKey: true, metaKey: true, altGraph: false }).holdBack, false);
  });

  it('lets Ctrl, Alt and Shift pass alone or in pairs', () => {
    const keys = keyboard();
    for (const code of ['ControlLeft', 'ShiftLeft']) assert.equal(keys.down(code).holdBack, false);
    assert.equal(keys.down('KeyC').holdBack, false);
    for (const code of ['KeyC', 'ShiftLeft', 'ControlLeft']) assert.deepEqual(keys.up(code), { holdBack: false, send: [], leave: false });
  });
});
