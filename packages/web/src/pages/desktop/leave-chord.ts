/**
 * The keyboard's way out of the desktop's screen. Once the screen has the focus, noVNC sends every key
 * to the desktop (Tab and Esc too), so a keyboard alone could never reach the page's controls again.
 * Ctrl+Alt+Shift pressed together, and nothing else, gives the keyboard back to the page: the chord
 * Apache Guacamole uses for its menu, which no common shortcut is made of alone.
 *
 * How keys still reach the desktop: the key that completes the chord is held back from noVNC (the
 * desktop sees only the first two modifiers, which do nothing alone), and the page leaves the screen
 * once every key of the chord is released, so that noVNC has sent each key-up it owes the desktop
 * (noVNC releases held keys only when the window loses focus, not the screen). A key pressed with the
 * chord (Ctrl+Alt+Shift+T, a shortcut of the desktop's) cancels the way out: the held-back modifier is
 * sent first, then the key, as if nothing had been held back.
 *
 * AltGr on Windows reads as Ctrl+Alt: AltGr+Shift types characters on many layouts (French among
 * them), so a chord with AltGraph held is not the way out. Pure and tested beside.
 */

/** `aria-keyshortcuts` of the screen. */
export const leaveChordShortcut = 'Control+Alt+Shift';

/** What the chord reads of a keyboard event. */
export interface ChordKey {
  /** `KeyboardEvent.code`: `ShiftLeft`, `KeyT`, ... */
  readonly code: string;
  readonly ctrlKey: boolean;
  readonly altKey: boolean;
  readonly shiftKey: boolean;
  readonly metaKey: boolean;
  /** `getModifierState('AltGraph')`. */
  readonly altGraph: boolean;
}

/** What the screen does with a key event. */
export interface ChordAction {
  /** The event must not reach noVNC (it is the chord's). */
  readonly holdBack: boolean;
  /** Keys to send to the desktop first (`code`, down or up): a held-back modifier, after all. */
  readonly send: ReadonlyArray<{ readonly code: string; readonly down: boolean }>;
  /** The keyboard goes back to the page now. */
  readonly leave: boolean;
}

/** The X keysyms of the chord's keys, for sending a held-back one after all (noVNC's `sendKey`). */
export const modifierKeysyms: Readonly<Record<string, number>> = {
  ShiftLeft: 0xffe1,
  ShiftRight: 0xffe2,
  ControlLeft: 0xffe3,
  ControlRight: 0xffe4,
  AltLeft: 0xffe9,
  AltRight: 0xffea,
};

const pass: ChordAction = { holdBack: false, send: [], leave: false };
const isChordKey = (code: string) => code in modifierKeysyms;

/** Follows the keys pressed on the screen, one instance per screen. */
export class LeaveChord {
  /** While the chord is pressed: the modifier held back because it completed it, and whether it is still down. */
  #chord: { code: string; down: boolean } | null = null;
  /** A held-back modifier sent after all: its key-up is sent too (noVNC never saw it go down). */
  #sentAfterAll: string | null = null;

  /** A key went down. */
  down(key: ChordKey): ChordAction {
    const chord = this.#chord;
    if (chord !== null) {
      if (key.code === chord.code) {
        chord.down = true;
        return { holdBack: true, send: [], leave: false };
      }
      if (isChordKey(key.code)) return pass;
      // Another key with the chord: a shortcut of the desktop's. Send what was held back, then the key.
      this.#chord = null;
      if (!chord.down) return pass;
      this.#sentAfterAll = chord.code;
      return { holdBack: false, send: [{ code: chord.code, down: true }], leave: false };
    }
    if (isChordKey(key.code) && key.ctrlKey && key.altKey && key.shiftKey && !key.metaKey && !key.altGraph) {
      this.#chord = { code: key.code, down: true };
      return { holdBack: true, send: [], leave: false };
    }
    return pass;
  }

  /** A key went up (its own modifier flag already reads false). */
  up(key: ChordKey): ChordAction {
    if (this.#sentAfterAll === key.code) {
      this.#sentAfterAll = null;
      return { holdBack: true, send: [{ code: key.code, down: false }], leave: false };
    }
    const chord = this.#chord;
    if (chord === null) return pass;
    // The held-back key's key-up stays here too; the others' go to the desktop, which saw them go down.
    const holdBack = key.code === chord.code;
    if (holdBack) chord.down = false;
    const released = !key.ctrlKey && !key.altKey && !key.shiftKey;
    if (released) this.#chord = null;
    return { holdBack, send: [], leave: released };
  }
}
