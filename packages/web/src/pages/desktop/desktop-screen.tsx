/**
 * The rescue desktop's screen: noVNC's `RFB` on the desktop's WebSocket (same origin, the session
 * cookie), with its status, Reconnect, Scale to window, View only, Full screen and Paste text. This
 * module, and noVNC with it, is loaded only by the desktop page, with a dynamic import.
 */
import type { DesktopView } from '@lifeboat/core/api';
import RFB from '@novnc/novnc';
import { useEffect, useId, useRef, useState, type FormEvent } from 'react';
import { usePage } from '../common/page-context.js';
import { desktopEnd, desktopSocketUrl, type DesktopEnd } from './desktop-socket.js';

/** Where the connection is; a disconnected one says why. */
type Status = { readonly state: 'connecting' } | { readonly state: 'connected' } | { readonly state: 'disconnected'; readonly end: DesktopEnd; readonly security: string | null };

/**
 * The screen of `view` (available). `onUnexplainedEnd` is called when the connection ends without a
 * reason (a refused upgrade): the page reads the view again, which says whether the desktop went away.
 */
export function DesktopScreen({ view, onUnexplainedEnd }: { readonly view: DesktopView; readonly onUnexplainedEnd: () => void }) {
  const { t, errorText } = usePage();
  const frame = useRef<HTMLDivElement>(null);
  const screen = useRef<HTMLDivElement>(null);
  const rfbRef = useRef<RFB | null>(null);
  const [attempt, setAttempt] = useState(0);
  const [status, setStatus] = useState<Status>({ state: 'connecting' });
  const [scale, setScale] = useState(true);
  const [viewOnly, setViewOnly] = useState(false);
  const [fullScreen, setFullScreen] = useState(false);
  const [pasted, setPasted] = useState(false);
  const helpId = useId();
  // Read when a connection starts, without making the settings restart it.
  const settings = useRef({ scale, viewOnly, onUnexplainedEnd });
  settings.current = { scale, viewOnly, onUnexplainedEnd };

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
      if (!disposed) setStatus({ state: 'connected' });
    });
    rfb.addEventListener('securityfailure', (event) => {
      security = event.detail.reason ?? String(event.detail.status);
    });
    rfb.addEventListener('disconnect', () => {
      ended = true;
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
              ? t('desktop.disconnected', { reason: errorText({ code: 'DESKTOP_UNREACHABLE' }) })
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
        <div className="row actions desktop-controls">
          <button type="button" onClick={() => setAttempt((n) => n + 1)}>
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
          <div ref={screen} className="desktop-screen" role="application" aria-label={t('desktop.screenLabel', { server: view.server })} aria-describedby={helpId} data-testid="desktop-screen" />
        </div>
      </section>
      <section className="card stack" aria-labelledby="desktop-paste-title">
        <h2 id="desktop-paste-title">{t('desktop.pasteTitle')}</h2>
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
