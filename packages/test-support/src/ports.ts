/** Free ports on 127.0.0.1, asked from the kernel (port 0) and released: the lab's own probes. */
export { freeTcpPort as freePort, freeUdpPort } from '@lifeboat/lab';
