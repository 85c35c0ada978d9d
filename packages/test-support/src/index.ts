/**
 * @lifeboat/test-support (private, never shipped): what the tests of several packages share, so that
 * no test imports another package's `test/` folder, and only this package (among the packages) starts
 * a control plane for tests.
 */
export { freePort, freeUdpPort } from './ports.js';
export { waitFor } from './wait.js';
export { startTcpProxy, type TcpProxy } from './tcp-proxy.js';
export { startControlPlaneInProcess, type InProcessControlPlaneOptions, type RunningControlPlane } from './control-plane-in-process.js';
export { api, controlPlaneBin, startControlPlaneProcess, type ControlPlaneProcess } from './control-plane-process.js';
export { playAgent, type PlayAgentOptions, type PlayedAgent } from './played-agent.js';
export { startTestControlPlane, type RescueBoot, type RescueView, type TestControlPlane, type TestMachine } from './test-control-plane.js';
export { RescueVm, ssh, sshBanner, sshInvocation, type RescueVmOptions, type SshLogin, type SshResult } from './rescue-vm.js';
export { bootVm, serveFiles, sshRun, type BootOptions, type BootedVm, type FileServer } from './vm-boot.js';
export { nginxBinary, startNginx, type Nginx } from './nginx.js';
export { startDesktopHost, type DesktopHost } from './desktop-host.js';
