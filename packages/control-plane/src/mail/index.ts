/** Mail: rescue credentials and expiry warnings over SMTP. */
export { createMailer, type MailSettings, type Mailer, type SentMail } from './mailer.js';
export { expiryWarningMessage, rescueCredentialsMessage, type ExpiryWarningMail, type RenderedMail, type RescueCredentialsMail, type SshAddress } from './messages.js';
