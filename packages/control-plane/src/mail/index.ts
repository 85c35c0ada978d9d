/** Mail: rescue credentials and expiry warnings over SMTP. */
export { createMailer, type MailSettings, type Mailer, type SentMail } from './mailer.js';
export { expiryWarningMessage, incidentUpdateMessage, rescueCredentialsMessage, type ExpiryWarningMail, type IncidentUpdateMail, type RenderedMail, type RescueCredentialsMail, type SshAddress } from './messages.js';
