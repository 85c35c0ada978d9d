/**
 * The part of noVNC's `RFB` (`@novnc/novnc` 1.7, `core/rfb.js`, which ships no types) that the desktop
 * page uses. See its docs/API.md.
 */
declare module '@novnc/novnc' {
  /** `detail` of the `disconnect` event: whether the connection ended as asked (`disconnect()`, a server's close). */
  export interface RfbDisconnectDetail {
    readonly clean: boolean;
  }
  /** `detail` of the `securityfailure` event: the VNC server refused the security handshake. */
  export interface RfbSecurityFailureDetail {
    readonly status: number;
    readonly reason?: string;
  }

  /** One connection to a VNC server over a WebSocket that carries the raw RFB stream. */
  export default class RFB extends EventTarget {
    /**
     * Connects at once and draws into a new element inside `target`. `channel`: a `ws(s):` URL or an
     * open or opening WebSocket (its `close` event then reaches its other listeners too).
     */
    constructor(target: HTMLElement, channel: string | WebSocket, options?: { readonly shared?: boolean; readonly wsProtocols?: readonly string[] });
    /** No keyboard or pointer events are sent to the server. */
    viewOnly: boolean;
    /** The remote screen is scaled to fit its container. */
    scaleViewport: boolean;
    /** The remote screen is clipped to its container (scrollbars otherwise). */
    clipViewport: boolean;
    /** Asks the server to resize its screen to the container. */
    resizeSession: boolean;
    /** A click on the screen gives it the keyboard focus. */
    focusOnClick: boolean;
    /** The CSS background around the remote screen. */
    background: string;
    /** Closes the connection. */
    disconnect(): void;
    /** Gives the remote screen the keyboard focus. */
    focus(options?: FocusOptions): void;
    /** Sends one key event (an X keysym, and its `KeyboardEvent.code`) as if it were typed; ignored when view only. */
    sendKey(keysym: number, code: string | null, down?: boolean): void;
    /** Sends `text` to the server's clipboard (ignored unless connected and not view-only). */
    clipboardPasteFrom(text: string): void;
    addEventListener(type: 'connect', listener: (event: CustomEvent<Record<string, never>>) => void): void;
    addEventListener(type: 'disconnect', listener: (event: CustomEvent<RfbDisconnectDetail>) => void): void;
    addEventListener(type: 'securityfailure', listener: (event: CustomEvent<RfbSecurityFailureDetail>) => void): void;
    addEventListener(type: 'desktopname', listener: (event: CustomEvent<{ readonly name: string }>) => void): void;
    /** The server's clipboard changed (text copied or selected on the desktop). */
    addEventListener(type: 'clipboard', listener: (event: CustomEvent<{ readonly text: string }>) => void): void;
  }
}
