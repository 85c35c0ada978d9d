/**
 * @lifeboat/test-support (private, never shipped): what the tests of several packages share, so that
 * no test imports another package's `test/` folder. It never imports the control plane: a test's
 * control plane is its entry point in a child process, its server's BMC the lab's Redfish simulator.
 */
export { freePort, freeUdpPort } from './ports.js';
export { waitFor } from './wait.js';
export { startTcpProxy, type TcpProxy } from './tcp-proxy.js';
export { controlPlaneProgram, type ControlPlaneProgram } from './control-plane-program.js';
export { api, standInImage, startControlPlaneProcess, type ControlPlaneProcess, type ControlPlaneProcessOptions } from './control-plane-process.js';
export { playAgent, type PlayAgentOptions, type PlayedAgent } from './played-agent.js';
export { RecordingMachine, startRedfishBmc, startTestBmc, type RedfishBmc, type RedfishMachine, type RescueBoot, type TestBmc, type TestBmcOptions, type TestMachine } from './test-bmc.js';
export { startTestControlPlane, type RescueView, type TestControlPlane } from './test-control-plane.js';
export { RescueVm, ssh, sshBanner, sshInvocation, type RescueVmOptions, type SshLogin, type SshResult } from './rescue-vm.js';
export { bootVm, serveFiles, sshRun, type BootOptions, type BootedVm, type FileServer } from './vm-boot.js';
export { nginxBinary, startNginx, type Nginx } from './nginx.js';
export { startDesktopHost, type DesktopHost } from './desktop-host.js';
export { brokenDoctorReport, brokenSystemFiles } from './doctor-report.js';
