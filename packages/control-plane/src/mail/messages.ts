/**
 * The mails Lifeboat sends, as plain text and HTML built from the same parts. The credentials mail is
 * the one place a rescue password leaves the control plane after the enter response; it is rendered
 * here and handed to the SMTP transport, never logged.
 */

/** Where the customer's SSH client reaches the rescue system. */
export interface SshAddress {
  readonly host: string;
  readonly port: number;
}

/** Everything the customer needs to log in to a rescue system, and to trust it. */
export interface RescueCredentialsMail {
  /** Recipient address. */
  readonly to: string;
  /** Server name (`web1`). */
  readonly server: string;
  /** Where SSH reaches the rescue system. */
  readonly address: SshAddress;
  /** Login user (`root`). */
  readonly user: string;
  /** Temporary password; absent when the customer logs in with their SSH keys. */
  readonly password?: string;
  /** `SHA256:...` fingerprints of the rescue system's host keys, with their type (`ssh-ed25519 SHA256:...`). */
  readonly hostKeyFingerprints: readonly string[];
  /** Ready `known_hosts` lines (`[host]:port ssh-ed25519 AAAA...`). */
  readonly knownHosts: readonly string[];
  /** The provider's host CA line (`@cert-authority * ssh-ed25519 AAAA... lifeboat-host-ca`), trusted once for every rescue. */
  readonly certAuthority?: string;
  /** When the rescue ends by itself. */
  readonly expiresAt: Date;
  /** The command that leaves rescue (`lifeboat rescue exit web1`). */
  readonly exitCommand: string;
  /**
   * The Message-ID header (`<...@...>`), the same for every attempt of one session's mail: should a
   * crash come between the SMTP server's acceptance and the record that the mail was sent, the second
   * copy carries the same Message-ID, and mail systems that de-duplicate by it show it once.
   */
  readonly messageId?: string;
}

/** A reminder that a rescue is about to end by itself. */
export interface ExpiryWarningMail {
  readonly to: string;
  readonly server: string;
  readonly expiresAt: Date;
  /** The command that leaves rescue now. */
  readonly exitCommand: string;
  /** The command that extends the lease, when the operator allows it. */
  readonly extendCommand?: string;
}

/** A rendered mail. */
export interface RenderedMail {
  readonly subject: string;
  readonly text: string;
  readonly html: string;
}

/** One block of a mail: a paragraph, or lines to copy verbatim. */
type Block = { readonly paragraph: string } | { readonly code: readonly string[] };

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}

function utc(date: Date): string {
  return `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

function render(subject: string, blocks: readonly Block[]): RenderedMail {
  const text = blocks.map((b) => ('paragraph' in b ? b.paragraph : b.code.map((line) => `    ${line}`).join('\n'))).join('\n\n');
  const body = blocks
    .map((b) => ('paragraph' in b ? `<p>${escapeHtml(b.paragraph)}</p>` : `<pre style="background:#f4f4f4;padding:8px">${b.code.map(escapeHtml).join('\n')}</pre>`))
    .join('\n');
  const html = `<!doctype html>\n<html><head><meta charset="utf-8"><title>${escapeHtml(subject)}</title></head>\n<body style="font-family:sans-serif">\n${body}\n</body></html>\n`;
  return { subject, text: `${text}\n`, html };
}

function sshCommand(mail: RescueCredentialsMail): string {
  const port = mail.address.port === 22 ? '' : ` -p ${mail.address.port}`;
  return `ssh${port} ${mail.user}@${mail.address.host}`;
}

/** The credentials mail: how to log in, how to verify the host, when it ends, how to leave. */
export function rescueCredentialsMessage(mail: RescueCredentialsMail): RenderedMail {
  const login: Block[] =
    mail.password === undefined
      ? [{ paragraph: `Log in as ${mail.user} with your SSH key (no password exists for this rescue):` }, { code: [sshCommand(mail)] }]
      : [{ paragraph: `Log in as ${mail.user} with this temporary password:` }, { code: [sshCommand(mail), `Password: ${mail.password}`] }];
  return render(`Rescue system of ${mail.server} is ready`, [
    { paragraph: `The rescue system of server ${mail.server} is up at ${mail.address.host} port ${mail.address.port}.` },
    ...login,
    { paragraph: 'Check that you reach your server, not an impostor: its SSH host key fingerprints are' },
    { code: mail.hostKeyFingerprints.length > 0 ? mail.hostKeyFingerprints : ['(not reported yet)'] },
    { paragraph: 'or put these lines in a known_hosts file and let SSH check them (ssh -o UserKnownHostsFile=FILE -o StrictHostKeyChecking=yes ...):' },
    { code: mail.knownHosts.length > 0 ? mail.knownHosts : ['(not reported yet)'] },
    ...(mail.certAuthority === undefined
      ? []
      : [
          { paragraph: `or trust the provider's SSH certificate authority once, for this rescue and every later one: add this line to ~/.ssh/known_hosts (the host keys of every rescue are signed by it, for the server's name and address; connect with ssh -o HostKeyAlias=${mail.server} ... where the address is shared):` },
          { code: [mail.certAuthority] },
        ]),
    { paragraph: `The rescue system runs from memory; your disks are untouched until you mount them (rescue-mount). It ends by itself at ${utc(mail.expiresAt)}, and the server boots from its disk again. To end it earlier:` },
    { code: [mail.exitCommand] },
  ]);
}

/** The reminder before a rescue ends by itself. */
export function expiryWarningMessage(mail: ExpiryWarningMail): RenderedMail {
  return render(`Rescue of ${mail.server} ends at ${utc(mail.expiresAt)}`, [
    { paragraph: `The rescue system of server ${mail.server} ends by itself at ${utc(mail.expiresAt)}: the server will then boot from its disk again, and anything kept only in the rescue system's memory is lost.` },
    ...(mail.extendCommand === undefined ? [] : [{ paragraph: 'To keep it longer:' }, { code: [mail.extendCommand] } as Block]),
    { paragraph: 'To end it now:' },
    { code: [mail.exitCommand] },
  ]);
}

/** What a customer is told when a technician answers its incident. */
export interface IncidentUpdateMail {
  readonly to: string;
  readonly server: string;
  readonly incidentId: string;
  readonly title: string;
  /** `comment`: a technician commented; `resolved`: the incident was resolved. */
  readonly event: 'comment' | 'resolved';
  /** The technician's token label. */
  readonly author: string;
  /** The comment, or the resolution message. */
  readonly message: string | null;
}

/** The incident mail: what happened to which incident, the technician's words, how to answer. */
export function incidentUpdateMessage(mail: IncidentUpdateMail): RenderedMail {
  const what = mail.event === 'resolved' ? 'was resolved' : 'has a new comment';
  const blocks: Block[] = [
    { paragraph: `Your incident on server ${mail.server} ("${mail.title}") ${what} by ${mail.author}.` },
    ...(mail.message === null ? [] : [{ paragraph: mail.message }]),
    { paragraph: 'To read the whole thread or to answer:' },
    { code: [`lifeboat incidents show ${mail.incidentId}`, `lifeboat incidents comment ${mail.incidentId} --message "..."`] },
  ];
  return render(`[Lifeboat] ${mail.server}: incident ${mail.event === 'resolved' ? 'resolved' : 'answered'}: ${mail.title}`, blocks);
}

/** One finding as the doctor's mail shows it. */
export interface DoctorMailFinding {
  readonly id: string;
  readonly severity: 'critical' | 'warning' | 'info';
  readonly summary: string;
  /** Each piece of evidence on one line or more: `/etc/fstab:3: UUID=... /data ext4 defaults 0 2`, a command's output. */
  readonly evidence: readonly string[];
  /** What the fix changes, when there is one. */
  readonly fix: string | null;
}

/** What the rescue doctor found on a server's installed system (issue 15). */
export interface DoctorFindingsMail {
  readonly to: string;
  readonly server: string;
  /** The root file system examined (`/dev/sda1 (ext4)`), when the report says. */
  readonly installedSystem: string | null;
  readonly findings: readonly DoctorMailFinding[];
  /** The same for every attempt of one session's mail (see `RescueCredentialsMail.messageId`). */
  readonly messageId?: string;
}

/** Evidence lines in a mail: long outputs are cut (the rescue view and `lifeboat doctor` show them whole). */
const mailEvidenceLines = 12;

/** The doctor's mail: each finding with its severity, evidence and fix command; how to see and apply them. */
export function doctorFindingsMessage(mail: DoctorFindingsMail): RenderedMail {
  const critical = mail.findings.filter((f) => f.severity === 'critical').length;
  const count = `${mail.findings.length} finding${mail.findings.length === 1 ? '' : 's'}`;
  const blocks: Block[] = [
    {
      paragraph: `Lifeboat's rescue doctor looked at the installed system of server ${mail.server}${mail.installedSystem ? ` (${mail.installedSystem})` : ''} read-only, and found ${count}${critical > 0 ? `, ${critical} of which will stop it from booting or answering SSH` : ''}:`,
    },
  ];
  for (const finding of mail.findings) {
    blocks.push({ paragraph: `[${finding.severity.toUpperCase()}] ${finding.summary}` });
    const lines = finding.evidence.flatMap((e) => e.split('\n'));
    if (lines.length > 0) blocks.push({ code: lines.length > mailEvidenceLines ? [...lines.slice(0, mailEvidenceLines), `... (${lines.length - mailEvidenceLines} more lines: lifeboat doctor ${mail.server})`] : lines });
    if (finding.fix !== null) {
      blocks.push({ paragraph: `Fix in one step (${finding.fix}; every changed file is kept beside it as FILE.lifeboat-<time>, and undo puts it back):` });
      blocks.push({ code: [`lifeboat doctor fix ${mail.server} ${finding.id}`] });
    }
  }
  blocks.push({ paragraph: 'The findings, with every fix and undo, are also in the rescue view of the web console, and on the command line:' });
  blocks.push({ code: [`lifeboat doctor ${mail.server}`] });
  return render(`[Lifeboat] ${mail.server}: ${count} on the installed system`, blocks);
}
