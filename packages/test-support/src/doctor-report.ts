/**
 * A broken installed system as the rescue doctor sees it, shared by the doctor's tests of the control
 * plane, the CLI and the web console: the report the agent sends about it and the files its fixes edit.
 */
import { readFileSync } from 'node:fs';
import type { DoctorReport } from '@lifeboat/core';

/**
 * The files of the installed system (on its partition sda1) that the report's fixes edit, by path:
 * line 2 of /etc/fstab mounts /data from a disk the server does not have; root is locked in /etc/shadow.
 */
export const brokenSystemFiles = {
  '/etc/fstab': 'LABEL=root / ext4 defaults 0 1\nUUID=5b1e0c2a-7d4f-4a8e-9a51-3f0c2d9e8b11 /data ext4 defaults 0 2\n',
  '/etc/shadow': 'root:!:19700:0:99999:7:::\ndaemon:*:19700:0:99999:7:::\n',
} as const;

/**
 * The report the agent sends, done, about the system of `brokenSystemFiles` (the JSON body of its
 * `POST /v1/agent/doctor`, kept in broken-doctor-report.json): a dead fstab line and a firewall dropping
 * SSH (critical, each with a fix), a locked root (a warning, fixed by a new password), errors in the
 * last boot's journal (info, no fix). In no order of severity: whoever shows them sorts. A new copy at
 * each call.
 */
export function brokenDoctorReport(): DoctorReport {
  return JSON.parse(readFileSync(new URL('./broken-doctor-report.json', import.meta.url), 'utf8')) as DoctorReport;
}
