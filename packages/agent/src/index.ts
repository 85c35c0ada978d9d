/** The rescue agent and helpers, as the image build takes them; and the agent's parts for tests. */
export { rescueFiles, bundleAgent, agentPathInImage } from './rescue-files.js';
export type { RescueFile } from './rescue-files.js';
export { bootParamsFrom, parseKernelCommandLine } from '@lifeboat/core/boot';
export type { BootParams } from '@lifeboat/core/boot';
export { hostKeyFromLine, sshFingerprint } from './host-keys.js';
export type { HostKeyReport } from './host-keys.js';
