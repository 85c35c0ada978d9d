/**
 * Sending Lifeboat's mails over SMTP with nodemailer, used through the narrow part Lifeboat needs:
 * one transport from a URL, `sendMail`, `close`. nodemailer's own logger stays off: it would print
 * message bodies, and the credentials mail holds a password.
 */
import nodemailer from 'nodemailer';
import { LifeboatError } from '@lifeboat/core';
import {
  doctorFindingsMessage,
  expiryWarningMessage,
  incidentUpdateMessage,
  rescueCredentialsMessage,
  type DoctorFindingsMail,
  type ExpiryWarningMail,
  type IncidentUpdateMail,
  type RenderedMail,
  type RescueCredentialsMail,
} from './messages.js';

/** SMTP settings (`LIFEBOAT_SMTP_URL`, `LIFEBOAT_MAIL_FROM`). */
export interface MailSettings {
  /**
   * `smtp://[user:password@]host[:port]` (STARTTLS when the server offers it) or `smtps://...` (TLS
   * from the first byte, port 465). Credentials in it are URL-encoded.
   */
  readonly smtpUrl: string;
  /** Sender, e.g. `Lifeboat <lifeboat@example.com>`. */
  readonly from: string;
  /** Accept a self-signed certificate from the SMTP server. */
  readonly insecureTls?: boolean;
}

/** What a sent mail left behind. */
export interface SentMail {
  /** The Message-ID header. */
  readonly messageId: string;
}

/** Sends Lifeboat's mails. */
export interface Mailer {
  /** Mails a customer how to log in to their rescue system (password only when there is one). */
  sendRescueCredentials(mail: RescueCredentialsMail): Promise<SentMail>;
  /** Mails a customer that their rescue ends soon. */
  sendExpiryWarning(mail: ExpiryWarningMail): Promise<SentMail>;
  /** Mails a customer that a technician commented on or resolved its incident. */
  sendIncidentUpdate(mail: IncidentUpdateMail): Promise<SentMail>;
  /** Mails a customer what the rescue doctor found on its installed system. */
  sendDoctorFindings(mail: DoctorFindingsMail): Promise<SentMail>;
  /** Closes pooled SMTP connections. */
  close(): void;
}

/** Builds a mailer; checks the URL now (no I/O), so a bad setting fails at start. */
export function createMailer(settings: MailSettings): Mailer {
  let url: URL;
  try {
    url = new URL(settings.smtpUrl);
  } catch {
    throw new LifeboatError('CONFIG_INVALID', 'the SMTP URL is not a URL (expected smtp://host:port or smtps://host:port)');
  }
  if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:') {
    throw new LifeboatError('CONFIG_INVALID', `the SMTP URL must be smtp:// or smtps://, not ${url.protocol}//`);
  }
  const secure = url.protocol === 'smtps:';
  const transport = nodemailer.createTransport({
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: url.port === '' ? (secure ? 465 : 587) : Number(url.port),
    secure,
    ...(url.username === '' ? {} : { auth: { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) } }),
    tls: { rejectUnauthorized: !settings.insecureTls },
    logger: false,
    debug: false,
    connectionTimeout: 15_000,
    greetingTimeout: 15_000,
    socketTimeout: 30_000,
  });
  const where = `${url.hostname}:${url.port || (secure ? 465 : 587)}`;

  async function send(to: string, mail: RenderedMail, messageId?: string): Promise<SentMail> {
    if (!/^[^\s@<>,;]+@[^\s@<>,;]+$/.test(to)) throw new LifeboatError('BAD_REQUEST', `not a mail address: ${to.slice(0, 100)}`);
    try {
      const info = await transport.sendMail({ from: settings.from, to, subject: mail.subject, text: mail.text, html: mail.html, ...(messageId === undefined ? {} : { messageId }) });
      return { messageId: info.messageId };
    } catch (error) {
      // nodemailer's messages carry the server's reply, never our message body; keep only code and reply.
      const e = error as { code?: string; responseCode?: number; response?: string };
      const reply = e.response === undefined ? '' : `: ${e.response.slice(0, 200)}`;
      throw new LifeboatError('MAIL_FAILED', `could not send mail through ${where} (${e.code ?? 'error'}${e.responseCode ? ` ${e.responseCode}` : ''})${reply}`);
    }
  }

  return {
    sendRescueCredentials: (mail) => send(mail.to, rescueCredentialsMessage(mail), mail.messageId),
    sendExpiryWarning: (mail) => send(mail.to, expiryWarningMessage(mail)),
    sendIncidentUpdate: (mail) => send(mail.to, incidentUpdateMessage(mail)),
    sendDoctorFindings: (mail) => send(mail.to, doctorFindingsMessage(mail), mail.messageId),
    close: () => transport.close(),
  };
}
