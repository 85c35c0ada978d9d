/**
 * The rescue desktop's screen: noVNC's `RFB` on the desktop's WebSocket (same origin, the session
 * cookie), with its status, how many view it, Reconnect, Scale to window, View only, Full screen, and
 * the clipboard both ways (text copied on the desktop shows here; text sent from here). The keyboard
 * reaches the screen with Tab or a click, and leaves it with Ctrl+Alt+Shift (`leave-chord.ts`) for the
 * controls. This module, and noVNC with it, is loaded only by the desktop page, with a dynamic import.
 */
import type { DesktopView } from '@lifeboat/core/api';
import RFB from '@novnc/novnc';
import { useEffect, useId, useRef, useState, type FocusEvent, type FormEvent } from 'react';
import { CopyField } from '../../ui/copy-button.js';
import { usePage } from '../common/page-context.js';
import { desktopEnd, desktopSocketUrl, type DesktopEnd } from './desktop-socket.js';
import { LeaveChord, leaveChordShortcut, modifierKeysyms } from './leave-chord.js';

/** Where the connection is; a disconnected one says why. */
type Status = { readonly state: 'connecting' } | { readonly state: 'connected' } | { readonly state: 'disconnected'; readonly end: DesktopEnd; readonly security: string | null };

/**
 * The screen of `view` (available). `onUnexplainedEnd` is called when the connection ends without a
 * reason (a refused upgrade): the page reads the view again, which says whether the desktop went away
 * (or is full). `onConnected`: the page reads the view again, whose viewers now count this one.
 */
export function DesktopScreen({ view, onUnexplainedEnd, onConnected }: { readonly view: DesktopView; readonly onUnexplainedEnd: () => void; readonly onConnected: () => void }) {
  const { t, plural, errorText } = usePage();
  const frame = useRef<HTMLDivElement>(null);
  const screen = useRef<HTMLDivElement>(null);
  const firstControl = useRef<HTMLButtonElement>(null);
  const rfbRef = useRef<RFB | null>(null);
  const [attempt, setAttempt] = useState(0);
  const [status, setStatus] = useState<Status>({ state: 'connecting' });
  const [scale, setScale] = useState(true);
  const [viewOnly, setViewOnly] = useState(false);
  const [fullScreen, setFullScreen] = useState(false);
  const [pasted, setPasted] = useState(false);
  /** The desktop's clipboard, as its VNC server last sent it (null: nothing copied there yet). */
  const [copied, setCopied] = useState<string | null>(null);
  /** The chord gave the keyboard back to the page (said once, until the screen has it again). */
  const [keyboardBack, setKeyboardBack] = useState(false);
  const helpId = useId();
  // Read when a connection starts, without making the settings restart it.
  const settings = useRef({ scale, viewOnly, onUnexplainedEnd, onConnected });
  settings.current = { scale, viewOnly, onUnexplainedEnd, onConnected };

  useEffect(() => {
    const target = screen.current;
    if (!target) return;
    setStatus({ state: 'connecting' });
    // The page opens the WebSocket itself: its close event carries the control plane's reason, which RFB keeps to itself.
    let socket: WebSocket | null = null;
    let rfb: RFB;
    try {
      socket = new WebSocket(desktopSocketUrl(location.origin, view.websocket));
      rfb = new RFB(target, socket, { shared: true });
    } catch {
      socket?.close();
      // A view whose WebSocket is not on this origin, or a browser noVNC cannot drive: a sentence, not a blank page.
      setStatus({ state: 'disconnected', end: { kind: 'unexplained' }, security: null });
      return;
    }
    rfb.scaleViewport = settings.current.scale;
    rfb.viewOnly = settings.current.viewOnly;
    rfbRef.current = rfb;
    let security: string | null = null;
    let ended = false;
    // After the cleanup, this connection's late events must not touch the next one's state.
    let disposed = false;
    rfb.addEventListener('connect', () => {
      if (disposed) return;
      setStatus({ state: 'connected' });
      // The view's number of viewers now counts this one.
      settings.current.onConnected();
    });
    rfb.addEventListener('securityfailure', (event) => {
      security = event.detail.reason ?? String(event.detail.status);
    });
    rfb.addEventListener('disconnect', () => {
      ended = true;
    });
    rfb.addEventListener('clipboard', (event) => {
      if (!disposed) setCopied(event.detail.text);
    });
    socket.addEventListener('close', (event) => {
      ended = true;
      if (disposed) return;
      const end = desktopEnd(event.code, event.reason);
      setStatus({ state: 'disconnected', end, security });
      if (end.kind === 'unexplained') settings.current.onUnexplainedEnd();
    });
    return () => {
      disposed = true;
      rfbRef.current = null;
      if (!ended) rfb.disconnect();
    };
  }, [view.websocket, attempt]);

  useEffect(() => {
    const rfb = rfbRef.current;
    if (!rfb) return;
    rfb.scaleViewport = scale;
    rfb.viewOnly = viewOnly;
  }, [scale, viewOnly, status]);

  // The way out of the screen: its key events are read before noVNC's (capture, on an ancestor).
  useEffect(() => {
    const box = frame.current;
    if (!box) return;
    const chord = new LeaveChord();
    const read = (event: KeyboardEvent) => ({
      code: event.code,
      ctrlKey: event.ctrlKey,
      altKey: event.altKey,
      shiftKey: event.shiftKey,
      metaKey: event.metaKey,
      altGraph: event.getModifierState('AltGraph'),
    });
    const handle = (event: KeyboardEvent, action: ReturnType<LeaveChord['down']>) => {
      for (const key of action.send) rfbRef.current?.sendKey(modifierKeysyms[key.code] ?? 0, key.code, key.down);
      if (action.holdBack) {
        event.stopPropagation();
        event.preventDefault();
      }
      if (action.leave) {
        // This key-up still reaches noVNC (an event's path is fixed when it is dispatched): the desktop
        // keeps no key down.
        if (document.fullscreenElement) void document.exitFullscreen().catch(() => undefined);
        firstControl.current?.focus();
        setKeyboardBack(true);
      }
    };
    const onDown = (event: KeyboardEvent) => handle(event, chord.down(read(event)));
    const onUp = (event: KeyboardEvent) => handle(event, chord.up(read(event)));
    box.addEventListener('keydown', onDown, true);
    box.addEventListener('keyup', onUp, true);
    return () => {
      box.removeEventListener('keydown', onDown, true);
      box.removeEventListener('keyup', onUp, true);
    };
  }, []);

  useEffect(() => {
    const follow = () => setFullScreen(document.fullscreenElement !== null && document.fullscreenElement === frame.current);
    document.addEventListener('fullscreenchange', follow);
    return () => document.removeEventListener('fullscreenchange', follow);
  }, []);

  const toggleFullScreen = () => {
    if (document.fullscreenElement) void document.exitFullscreen();
    else void frame.current?.requestFullscreen().then(() => rfbRef.current?.focus({ preventScroll: true }), () => undefined);
  };
  const paste = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const text = String(new FormData(event.currentTarget).get('text') ?? '');
    if (!text || !rfbRef.current) return;
    rfbRef.current.clipboardPasteFrom(text);
    setPasted(true);
  };
  /** Tab onto the screen gives the keyboard to the desktop (noVNC's canvas itself is not in the tab order). */
  const focusScreen = (event: FocusEvent<HTMLDivElement>) => {
    if (event.target === event.currentTarget) rfbRef.current?.focus({ preventScroll: true });
    setKeyboardBack(false);
  };
  const connected = status.state === 'connected';
  const statusText =
    status.state === 'connecting'
      ? t('desktop.connecting')
      : status.state === 'connected'
        ? viewOnly
          ? t('desktop.connectedViewOnly')
          : t('desktop.connected')
        : status.security !== null
          ? t('desktop.disconnected', { reason: t('desktop.securityFailure', { reason: status.security }) })
          : status.end.kind === 'error'
            ? t('desktop.disconnected', { reason: errorText({ code: status.end.code }) })
            : status.end.kind === 'unexplained'
              ? // A refused upgrade: the view, read again, tells a full desktop from one that cannot be reached.
                t('desktop.disconnected', { reason: errorText({ code: view.viewers >= view.viewerLimit ? 'DESKTOP_FULL' : 'DESKTOP_UNREACHABLE' }) })
              : t('desktop.closed');

  return (
    <>
      <section className="card stack" aria-labelledby="desktop-screen-title">
        <h2 id="desktop-screen-title">{t('desktop.screenTitle')}</h2>
        <p className="hint" id={helpId}>
          {t('desktop.screenHelp')}
        </p>
        <p role="status" className="desktop-status" data-state={status.state}>
          {statusText}
        </p>
        <p className="meta desktop-viewers" data-viewers={view.viewers}>
          {plural('desktop.viewers', view.viewers, { count: view.viewers, limit: view.viewerLimit })}
        </p>
        <p role="status" className="desktop-keyboard-back">
          {keyboardBack ? t('desktop.keyboardBack') : ''}
        </p>
        <div className="row actions desktop-controls" role="group" aria-label={t('desktop.controls')}>
          <button type="button" ref={firstControl} onClick={() => setAttempt((n) => n + 1)}>
            {t('desktop.reconnect')}
          </button>
          <button type="button" aria-pressed={fullScreen} onClick={toggleFullScreen} disabled={!document.fullscreenEnabled}>
            {t('desktop.fullScreen')}
          </button>
          <label className="check">
            <input type="checkbox" checked={scale} onChange={(event) => setScale(event.target.checked)} />
            {t('desktop.scale')}
          </label>
          <label className="check">
            <input type="checkbox" checked={viewOnly} onChange={(event) => setViewOnly(event.target.checked)} />
            {t('desktop.viewOnly')}
          </label>
        </div>
        <div ref={frame} className="desktop-frame">
          <div
            ref={screen}
            className="desktop-screen"
            role="application"
            tabIndex={0}
            onFocus={focusScreen}
            aria-label={t('desktop.screenLabel', { server: view.server })}
            aria-describedby={helpId}
            aria-keyshortcuts={leaveChordShortcut}
            data-testid="desktop-screen"
          />
        </div>
      </section>
      <section className="card stack" aria-labelledby="desktop-clipboard-title">
        <h2 id="desktop-clipboard-title">{t('desktop.clipboardTitle')}</h2>
        <h3>{t('desktop.copiedTitle')}</h3>
        {copied === null ? (
          <p className="hint" data-testid="desktop-copied-none">
            {t('desktop.copiedNone')}
          </p>
        ) : (
          <CopyField label={t('desktop.copiedLabel')} value={copied} />
        )}
        <h3>{t('desktop.pasteTitle')}</h3>
        <form className="stack" onSubmit={paste} onChange={() => setPasted(false)}>
          <label>
            {t('desktop.pasteLabel')}
            <textarea name="text" rows={3} spellCheck={false} autoCapitalize="none" />
          </label>
          <p className="hint">{t('desktop.pasteHelp')}</p>
          <div className="row actions">
            <button type="submit" disabled={!connected || viewOnly}>
              {t('desktop.pasteSend')}
            </button>
            <span role="status">{pasted ? t('desktop.pasted') : ''}</span>
          </div>
        </form>
      </section>
    </>
  );
}
