/**
 * A real SMTP server on loopback that keeps what it receives, and a mailer sending to it: what the mail
 * tests share. Used by tests only.
 */
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { createMailer, type Mailer } from './mailer.js';

/** A mail as the SMTP server received it. */
export interface ReceivedMail {
  readonly to: string[];
  /** The whole message as sent (headers, quoted-printable parts). */
  readonly raw: string;
}

/** The running server, its mailer and what arrived. */
export interface MailCatcher {
  readonly mailer: Mailer;
  /** Every mail accepted so far, in order. */
  readonly received: ReceivedMail[];
  /** Closes the mailer and the server. */
  close(): Promise<void>;
}

/** Starts an SMTP server on 127.0.0.1 (no TLS, no auth) and a mailer that sends to it. */
export async function startMailCatcher(): Promise<MailCatcher> {
  const received: ReceivedMail[] = [];
  const smtp = new SMTPServer({
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        received.push({ to: session.envelope.rcptTo.map((r) => r.address), raw: Buffer.concat(chunks).toString('utf8') });
        callback();
      });
    },
  });
  await new Promise<void>((r) => smtp.listen(0, '127.0.0.1', r));
  const mailer = createMailer({ smtpUrl: `smtp://127.0.0.1:${(smtp.server.address() as AddressInfo).port}`, from: 'Lifeboat <lifeboat@example.test>' });
  return {
    mailer,
    received,
    async close() {
      mailer.close();
      await new Promise<void>((r) => smtp.close(() => r()));
    },
  };
}
