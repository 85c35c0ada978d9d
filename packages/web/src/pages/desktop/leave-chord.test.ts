import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LeaveChord, type ChordAction, type ChordKey } from './leave-chord.js';

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

const nothing: ChordAction = { holdBack: false, send: [], leave: false };
const heldBack: ChordAction = { ...nothing, holdBack: true };

/** Plays key events in order, each with the action it must get. */
function play(steps: ReadonlyArray<readonly ['down' | 'up', string, ChordAction]>): void {
  const keys = keyboard();
  for (const [direction, code, expected] of steps) assert.deepEqual(keys[direction](code), expected, `${direction} ${code}`);
}

describe('the chord that leaves the desktop\'s screen', () => {
  it('holds back the key that completes Ctrl+Alt+Shift, and leaves once every key is up', () => {
    play([
      ['down', 'ControlLeft', nothing],
      ['down', 'AltLeft', nothing],
      ['down', 'ShiftLeft', heldBack],
      // The held-back key's up stays with the page; the others' reach the desktop, which saw them go down.
      ['up', 'ShiftLeft', heldBack],
      ['up', 'AltLeft', nothing],
      ['up', 'ControlLeft', { ...nothing, leave: true }],
      // And it is over: the next keys are the desktop's.
      ['down', 'KeyA', nothing],
    ]);
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
    play([
      ['down', 'ControlLeft', nothing],
      ['down', 'AltLeft', nothing],
      ['down', 'ShiftLeft', heldBack],
      ['down', 'KeyT', { ...nothing, send: [{ code: 'ShiftLeft', down: true }] }],
      ['up', 'KeyT', nothing],
      ['up', 'ShiftLeft', { ...heldBack, send: [{ code: 'ShiftLeft', down: false }] }],
      ['up', 'AltLeft', nothing],
      ['up', 'ControlLeft', nothing],
    ]);
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
