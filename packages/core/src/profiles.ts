/**
 * What a rescue profile says about the server's installed system. A `linux` rescue's server runs an
 * installed system that answers SSH: leaving rescue waits for it. A `windows` rescue's server runs
 * Windows, which answers RDP (its own console protocol), not SSH: leaving rescue waits until the rescue
 * system is gone from the server's address, and cannot see Windows start.
 */

/** Whether the installed system of a server rescued with this profile is expected to answer SSH. */
export function installedSystemAnswersSsh(profile: string | null | undefined): boolean {
  return profile !== 'windows';
}
