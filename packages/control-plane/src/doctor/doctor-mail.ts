/**
 * The rescue doctor's mail (issue 15): when the agent's report arrives `done` with findings, the
 * customer is mailed them (summary, severity, evidence, the fix command) at the session's address, the
 * one the credentials went to. Sent as the credentials mail is: a durable job retried with the worker's
 * backoff while the session is open, and sent once: the audit event `doctor.findings_mailed` is the
 * record that the SMTP server accepted it, read before sending (a crash between the two sends it again
 * with the same Message-ID).
 */
import type { DoctorEvidence, DoctorFinding } from '@lifeboat/core';
import type { JobContext, JobHandler } from '../jobs/worker.js';
import type { DoctorMailFinding, Mailer } from '../mail/index.js';
import type { Store } from '../store/store.js';

/** The job kind of the doctor's mail. */
export const doctorMailJob = 'doctor.mail_findings';

/** The audit action that records the doctor's mail accepted by the SMTP server. */
export const doctorMailedAction = 'doctor.findings_mailed';

/** What the mail job needs. */
export interface DoctorMailOptions {
  readonly store: Store;
  /** Without it nothing is mailed. */
  readonly mailer?: Mailer;
}

/** One piece of evidence as text: `FILE:LINE: text`, or `$ command` and its output. */
export function evidenceText(evidence: DoctorEvidence): string {
  if (evidence.file !== undefined) return `${evidence.file}${evidence.line === undefined ? '' : `:${evidence.line}`}: ${evidence.text}`;
  if (evidence.command !== undefined) return `$ ${evidence.command}\n${evidence.text}`;
  return evidence.text;
}

/** A finding as the mail shows it. */
export function mailFinding(finding: DoctorFinding): DoctorMailFinding {
  return { id: finding.id, severity: finding.severity, summary: finding.summary, evidence: finding.evidence.map(evidenceText), fix: finding.fix && finding.fix.state === 'available' ? finding.fix.description : null };
}

const severityOrder = { critical: 0, warning: 1, info: 2 } as const;

/** The job handlers of the doctor's mail. */
export function doctorJobs(options: DoctorMailOptions): Record<string, JobHandler> {
  const { store } = options;
  const mailFindings: JobHandler = async ({ job }: JobContext) => {
    const { sessionId } = job.params as { sessionId: string };
    const session = await store.sessions.byId(sessionId);
    const mailer = options.mailer;
    // The rescue is over (its findings are history), or nowhere to send them: nothing to do.
    if (!session || session.endedAt !== null || session.email === null || !mailer) return;
    const server = await store.servers.byId(session.serverId);
    const stored = await store.doctor.ofSession(sessionId);
    if (!server || !stored || stored.report.findings.length === 0) return;
    if (await store.audit.recordedFor(doctorMailedAction, server.id, sessionId)) return;
    const findings = [...stored.report.findings].sort((a, b) => severityOrder[a.severity] - severityOrder[b.severity]);
    const sent = await mailer.sendDoctorFindings({
      to: session.email,
      server: server.name,
      installedSystem: stored.report.installedSystem ?? null,
      findings: findings.map(mailFinding),
      messageId: `<doctor-findings.${sessionId}@lifeboat>`,
    });
    await store.audit.record('system', doctorMailedAction, { tenantId: server.tenantId, serverId: server.id, detail: { sessionId, to: session.email, messageId: sent.messageId, findings: findings.length } });
  };
  return { [doctorMailJob]: mailFindings };
}
