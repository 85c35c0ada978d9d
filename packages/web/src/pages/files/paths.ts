/** The explorer's paths, download links and text detection (no React: tested in Node). */

/**
 * The download URL of a file or folder. Downloads are plain links on purpose: the browser streams
 * the answer to disk with its own progress and cancel, where reading it through `fetch` would hold a
 * whole folder's tar in memory. It is a GET, authenticated by the session cookie like the client.
 */
export function downloadUrl(server: string, device: string, path: string): string {
  return `/v1/servers/${encodeURIComponent(server)}/files/${encodeURIComponent(device)}/download?path=${encodeURIComponent(path)}`;
}

/** `/a/b` + `c` → `/a/b/c`; `..` goes up. */
export function childPath(directory: string, name: string): string {
  if (name === '..') return directory.replace(/\/[^/]+\/?$/, '') || '/';
  return `${directory.replace(/\/$/, '')}/${name}`;
}

/** Whether bytes look like text: valid UTF-8 without NUL bytes. */
export function asText(bytes: Uint8Array): string | null {
  if (bytes.includes(0)) return null;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return null;
  }
}
