/** Netboot: iPXE scripts by MAC, rescue image files, and a dnsmasq configuration for operators. */
export type * from './netboot-source.js';
export { netbootRoutes, type NetbootRoutesOptions } from './routes.js';
export { directoryImageRegistry, imageFiles, type ImageFile, type ImageRegistry } from './image-registry.js';
export { chainScript, localDiskScript, rescueScript, type RescueScriptParams, type RetryPolicy } from './ipxe-scripts.js';
export { dnsmasqConfig, type DnsmasqConfigOptions } from '@lifeboat/core';
