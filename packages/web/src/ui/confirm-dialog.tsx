/**
 * A confirmation asked in a modal dialog: the platform's own `<dialog>` opened with `showModal()`, so
 * the browser makes the rest of the page inert, keeps Tab inside, closes it on Escape and gives it the
 * dialog role. Focus starts on Cancel (the safe answer) and goes back to what had it when the dialog
 * closes, however it closes.
 */
import { useEffect, useId, useRef, type ReactNode } from 'react';

/** What the dialog asks; `open` shows it, `onCancel` is called on Cancel and Escape. */
export interface ConfirmDialogProps {
  readonly open: boolean;
  readonly title: string;
  /** What will change: read by screen readers as the dialog's description. */
  readonly children: ReactNode;
  readonly confirmLabel: string;
  readonly cancelLabel: string;
  readonly onConfirm: () => void;
  readonly onCancel: () => void;
  /** Styles the confirm button as a destructive action. */
  readonly danger?: boolean;
}

/** The dialog (rendered closed until `open`). */
export function ConfirmDialog({ open, title, children, confirmLabel, cancelLabel, onConfirm, onCancel, danger = false }: ConfirmDialogProps) {
  const dialog = useRef<HTMLDialogElement>(null);
  const cancel = useRef<HTMLButtonElement>(null);
  const opener = useRef<HTMLElement | null>(null);
  const id = useId();

  useEffect(() => {
    const element = dialog.current;
    if (!element) return;
    if (open && !element.open) {
      opener.current = document.activeElement instanceof HTMLElement ? document.activeElement : null;
      element.showModal();
      cancel.current?.focus();
    } else if (!open && element.open) {
      element.close();
    }
  }, [open]);

  return (
    <dialog
      ref={dialog}
      className="confirm-dialog"
      aria-labelledby={`${id}-title`}
      aria-describedby={`${id}-body`}
      onClose={() => {
        const back = opener.current;
        opener.current = null;
        if (back?.isConnected) back.focus();
        if (open) onCancel();
      }}
    >
      {/* Its content exists only while it is open: a closed dialog says nothing, even to a search of the page. */}
      {open && (
        <>
          <h2 id={`${id}-title`}>{title}</h2>
          <div id={`${id}-body`}>{children}</div>
          <div className="row actions">
            <button type="button" ref={cancel} onClick={onCancel}>
              {cancelLabel}
            </button>
            <button type="button" className={danger ? 'danger' : 'primary'} onClick={onConfirm}>
              {confirmLabel}
            </button>
          </div>
        </>
      )}
    </dialog>
  );
}
