/**
 * The rescue system's `sshd_config`: root login by password (the session's hash) or by key only.
 */

/** What the session allows. */
export interface SshdPolicy {
  /** Password login allowed (only when a password hash was given and no keys replace it). */
  readonly passwordLogin: boolean;
  /** Host key files that exist (`/etc/ssh/ssh_host_ed25519_key`, ...). */
  readonly hostKeyFiles: readonly string[];
  /** Host certificates signed by the provider's CA (`ssh_host_ed25519_key-cert.pub`, ...), each beside its key. */
  readonly hostCertificateFiles?: readonly string[];
  /** `ssh -X` allowed: a rescue with a desktop (X programs) and xauth. */
  readonly x11Forwarding?: boolean;
  /** Listening port; 22 unless a test says otherwise. */
  readonly port?: number;
}

/** The text of `sshd_config` for a policy. */
export function sshdConfig(policy: SshdPolicy): string {
  const lines = [
    '# Written by the Lifeboat agent at boot; rewritten at every boot.',
    `Port ${policy.port ?? 22}`,
    ...policy.hostKeyFiles.map((f) => `HostKey ${f}`),
    ...(policy.hostCertificateFiles ?? []).map((f) => `HostCertificate ${f}`),
    `PermitRootLogin ${policy.passwordLogin ? 'yes' : 'prohibit-password'}`,
    `PasswordAuthentication ${policy.passwordLogin ? 'yes' : 'no'}`,
    'KbdInteractiveAuthentication no',
    'PermitEmptyPasswords no',
    'PubkeyAuthentication yes',
    'AuthorizedKeysFile .ssh/authorized_keys',
    // No PAM in the rescue system: sshd checks /etc/shadow itself and prints the MOTD.
    'UsePAM no',
    'PrintMotd yes',
    'PrintLastLog no',
    `X11Forwarding ${policy.x11Forwarding === true ? 'yes' : 'no'}`,
    'ClientAliveInterval 60',
    'AcceptEnv LANG LC_*',
    'Subsystem sftp /usr/lib/openssh/sftp-server',
  ];
  return `${lines.join('\n')}\n`;
}
