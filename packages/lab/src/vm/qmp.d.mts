/**
 * Sends one QMP command to the QEMU monitor at `socketPath` and resolves with its `return` value;
 * rejects with QEMU's error description, or when no answer comes within `timeoutMs` (10 s by default).
 */
export function qmp(socketPath: string, command: string, args?: Record<string, unknown>, timeoutMs?: number): Promise<unknown>;
