/**
 * The control plane's own kill-point and crash tests: its real `main` in a child process with one part
 * replaced, the BMC at the PowerDriverFactory boundary (`serve-with-recording-bmc.ts`: every call
 * recorded in `$RECORDING_BMC_LOG`, power actions held while `$RECORDING_BMC_HOLD` exists). Only this
 * package may start it: the tests of other packages get the real entry point and a Redfish BMC from
 * `@lifeboat/test-support`.
 */
import { fileURLToPath } from 'node:url';
import { startControlPlaneProcess, type ControlPlaneProcess, type ControlPlaneProcessOptions } from '@lifeboat/test-support';

const fixture = fileURLToPath(new URL('./serve-with-recording-bmc.ts', import.meta.url));

/** Starts `main` with the recording BMC; `env` must name `RECORDING_BMC_LOG`. */
export function startRecordingControlPlane(options: Omit<ControlPlaneProcessOptions, 'program'> & { readonly env: { readonly RECORDING_BMC_LOG: string } & Record<string, string> }): Promise<ControlPlaneProcess> {
  return startControlPlaneProcess({ ...options, program: ['--import', 'tsx', fixture] });
}
