/**
 * The xterm.js terminals of the console page: the live serial console and the recorded log of the
 * last boot. This module (and xterm.js with its stylesheet) is loaded only by the console page, with
 * a dynamic import, so it does not weigh on the first load.
 */
import '@xterm/xterm/css/xterm.css';
import { FitAddon } from '@xterm/addon-fit';
import { Terminal } from '@xterm/xterm';
import { useEffect, useRef, useState, type RefObject } from 'react';
import { usePage } from '../common/page-context.js';
import { attachedMode, consoleSocketUrl, seatHolder, seatRefusedCloseCode } from './console-socket.js';

/** A terminal in `container`, sized to it (and again when the window changes size); disposed on unmount. */
function useTerminal(container: RefObject<HTMLDivElement | null>, label: string): Terminal | null {
  const [terminal, setTerminal] = useState<Terminal | null>(null);
  useEffect(() => {
    const element = container.current;
    if (!element) return;
    const term = new Terminal({ convertEol: false, scrollback: 20_000, fontFamily: 'ui-monospace, "DejaVu Sans Mono", monospace', fontSize: 14, disableStdin: true, screenReaderMode: false });
    const fit = new FitAddon();
    term.loadAddon(fit);
    term.open(element);
    term.textarea?.setAttribute('aria-label', label);
    const refit = () => {
      try {
        fit.fit();
      } catch {
        // not laid out yet (hidden): the next resize fits it
      }
    };
    refit();
    window.addEventListener('resize', refit);
    setTerminal(term);
    return () => {
      window.removeEventListener('resize', refit);
      term.dispose();
      setTerminal(null);
    };
  }, [container, label]);
  return terminal;
}

/** The seat a viewer asks for, or detached. */
type Wanted = 'read' | 'write' | 'detached';
/** Where the connection is. */
type Mode = 'connecting' | 'read' | 'write' | 'closed';

/** The live serial console of `server`: read-only at first; "take the keyboard" asks for the writer seat. */
export function LiveConsole({ server }: { readonly server: string }) {
  const { t, locale } = usePage();
  const container = useRef<HTMLDivElement>(null);
  const terminal = useTerminal(container, t('console.terminalLabel', { server }));
  const [wanted, setWanted] = useState<Wanted>('read');
  const [attempt, setAttempt] = useState(0);
  const [mode, setMode] = useState<Mode>('connecting');
  const [refusal, setRefusal] = useState<{ who: string; since: string | null } | null>(null);
  const [ended, setEnded] = useState<string | null>(null);
  const modeRef = useRef<Mode>('connecting');
  modeRef.current = mode;

  useEffect(() => {
    if (!terminal || wanted === 'detached') return;
    terminal.reset();
    setMode('connecting');
    setEnded(null);
    const socket = new WebSocket(consoleSocketUrl(location.origin, server, wanted === 'write'));
    socket.binaryType = 'arraybuffer';
    let lastNotice = '';
    let refused = false;
    // After the cleanup, this socket's late events must not touch the next connection's state.
    let disposed = false;
    socket.addEventListener('message', (event: MessageEvent<ArrayBuffer | string>) => {
      if (disposed) return;
      if (typeof event.data !== 'string') {
        terminal.write(new Uint8Array(event.data));
        return;
      }
      lastNotice = event.data.trim();
      const seat = attachedMode(event.data);
      if (seat) {
        setMode(seat);
        terminal.options.disableStdin = seat !== 'write';
        if (seat === 'write') terminal.focus();
      }
      const holder = seatHolder(event.data);
      if (holder) {
        refused = true;
        setRefusal(holder);
      }
    });
    socket.addEventListener('close', (event) => {
      if (disposed) return;
      terminal.options.disableStdin = true;
      // A refused seat: watch read-only again, the refusal stays on screen.
      if (refused || event.code === seatRefusedCloseCode) return setWanted('read');
      setMode('closed');
      setEnded(lastNotice.replace(/^\[lifeboat\]\s*/, '') || event.reason || null);
    });
    const typing = terminal.onData((data) => {
      if (modeRef.current === 'write' && socket.readyState === WebSocket.OPEN) socket.send(new TextEncoder().encode(data));
    });
    return () => {
      disposed = true;
      typing.dispose();
      socket.close(1000);
    };
  }, [terminal, server, wanted, attempt]);

  const ask = (next: Wanted) => {
    if (next === 'write') setRefusal(null);
    setWanted(next);
    setAttempt((n) => n + 1);
  };
  const since = refusal?.since ? new Date(refusal.since) : null;
  const status =
    wanted === 'detached'
      ? t('console.detached')
      : mode === 'connecting'
        ? t('console.connecting')
        : mode === 'write'
          ? t('console.writer')
          : mode === 'read'
            ? t('console.readOnly')
            : t('console.closed', { reason: ended ?? '' });

  return (
    <section className="card stack" aria-labelledby="live-console-title">
      <h2 id="live-console-title">{t('console.liveTitle')}</h2>
      <p className="hint">{t('console.liveHelp')}</p>
      <p role="status" className="console-status" data-mode={wanted === 'detached' ? 'detached' : mode}>
        {status}
      </p>
      {refusal && (
        <p role="alert" className="warning-text">
          {since && !Number.isNaN(since.getTime())
            ? t('console.seatRefusedSince', { who: refusal.who, since: new Intl.DateTimeFormat(locale, { timeStyle: 'short', dateStyle: 'short' }).format(since) })
            : t('console.seatRefused', { who: refusal.who })}
        </p>
      )}
      <div className="row actions">
        {wanted !== 'detached' && mode === 'read' && (
          <button type="button" className="primary" onClick={() => ask('write')}>
            {t('console.takeKeyboard')}
          </button>
        )}
        {wanted !== 'detached' && mode === 'write' && (
          <button type="button" onClick={() => ask('read')}>
            {t('console.releaseKeyboard')}
          </button>
        )}
        {wanted === 'detached' || mode === 'closed' ? (
          <button type="button" onClick={() => ask('read')}>
            {t('console.attach')}
          </button>
        ) : (
          <button type="button" onClick={() => ask('detached')}>
            {t('console.detach')}
          </button>
        )}
      </div>
      <div ref={container} className="terminal" data-testid="live-terminal" />
    </section>
  );
}

/** The console log of a boot (`data`: the raw bytes, base64), shown in a read-only terminal. */
export function LogTerminal({ server, data }: { readonly server: string; readonly data: string }) {
  const { t } = usePage();
  const container = useRef<HTMLDivElement>(null);
  const terminal = useTerminal(container, t('console.logLabel', { server }));
  useEffect(() => {
    if (!terminal) return;
    terminal.reset();
    terminal.write(Uint8Array.from(atob(data), (c) => c.charCodeAt(0)));
  }, [terminal, data]);
  return <div ref={container} className="terminal" data-testid="log-terminal" />;
}
