/** What the doctor's tests share: a report as the agent sends it. Used by tests only. */
import type { DoctorReport } from '@lifeboat/core';

/** A report as the agent sends it: a dead fstab line, a firewall dropping SSH, a locked root, journal errors. */
export function brokenReport(): DoctorReport {
  return {
    state: 'done',
    startedAt: '2026-06-01T10:00:05.000Z',
    finishedAt: '2026-06-01T10:00:09.000Z',
    durationMs: 4000,
    installedSystem: '/dev/sda1 (ext4)',
    findings: [
      {
        id: 'fstab-data',
        check: 'fstab',
        severity: 'critical',
        summary: 'fstab mounts /data from UUID=0a1b2c3d, which does not exist, without nofail: the boot stops in emergency mode.',
        evidence: [{ file: '/etc/fstab', line: 3, text: 'UUID=0a1b2c3d /data ext4 defaults 0 2' }],
        fix: { kind: 'fstab-nofail', description: 'add nofail to line 3 of /etc/fstab', state: 'available' },
      },
      {
        id: 'firewall-nftables',
        check: 'firewall',
        severity: 'critical',
        summary: 'nftables drops TCP port 22 at boot: SSH will not answer.',
        evidence: [{ file: '/etc/nftables.conf', line: 7, text: 'tcp dport 22 drop' }],
        fix: { kind: 'firewall-disable', description: 'disable nftables.service for the next boot', state: 'available' },
      },
      {
        id: 'root-login',
        check: 'root-login',
        severity: 'warning',
        summary: 'root is locked and has no authorized key: nobody can log in as root.',
        evidence: [{ file: '/etc/shadow', line: 1, text: 'root:!:...' }],
        fix: { kind: 'root-password', description: 'set a new root password', state: 'available' },
      },
      {
        id: 'journal',
        check: 'journal',
        severity: 'info',
        summary: '3 errors in the last boot.',
        evidence: [{ command: 'journalctl --directory /var/log/journal -b -1 -p err', text: 'Timed out waiting for device /dev/disk/by-uuid/0a1b2c3d.' }],
      },
    ],
  };
}
