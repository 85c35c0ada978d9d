/** Mail: rescue credentials, expiry warnings, incident updates and the rescue doctor's findings over SMTP. */
export { createMailer, type MailSettings, type Mailer, type SentMail } from './mailer.js';
export { doctorFindingsMessage, expiryWarningMessage, incidentUpdateMessage, rescueCredentialsMessage, type DoctorFindingsMail, type DoctorMailFinding, type ExpiryWarningMail, type IncidentUpdateMail, type RenderedMail, type RescueCredentialsMail, type SshAddress } from './messages.js';
