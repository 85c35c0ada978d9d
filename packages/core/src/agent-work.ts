/**
 * The kinds of work the control plane hands the rescue system's agent (`GET /v1/agent/work`). Plain
 * constants, no schema library: the agent's QuickJS bundle imports them (`@lifeboat/core/agent-work`).
 */

/** Exit: sync, release the installed system (unmount, LVM and md stopped), answer, reboot. */
export const leaveRescueWork = 'leave_rescue';
/** Run one hardware test (`core/src/api/hardware-tests.ts`). */
export const hardwareTestWork = 'hardware_test';
/** Apply the fix of one doctor finding (`core/src/api/doctor.ts`). */
export const doctorFixWork = 'doctor_fix';
/** Put back what a doctor fix changed. */
export const doctorUndoWork = 'doctor_undo';

/**
 * Work kinds only the control plane queues, with parameters it checked: the generic
 * `POST /v1/servers/{name}/rescue/work` refuses them (a customer's `leave_rescue` would reboot the rescue
 * system behind the exit job's back; a hardware test goes through `/tests`, which records it; a doctor fix through `/doctor`, which audits it).
 */
export const reservedWorkKinds: ReadonlySet<string> = new Set([leaveRescueWork, hardwareTestWork, doctorFixWork, doctorUndoWork]);
