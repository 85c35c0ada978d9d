/**
 * Headers on every answer of the control plane: no caching (answers carry passwords, tokens, BMC
 * details; a shared proxy or the browser's disk must keep none of them), no MIME sniffing, no
 * referrer. A route that chooses its own caching (netboot images: `no-cache` with an ETag) keeps it;
 * pages of the web console set their own Content-Security-Policy, which is kept too.
 */
import type { FastifyInstance } from 'fastify';

/** Headers every answer carries, also those written on the raw socket (event streams, client errors). */
export const securityHeaders: Readonly<Record<string, string>> = Object.freeze({
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
});

/** The Cache-Control of every answer that did not choose one. */
export const defaultCacheControl = 'no-store';

// JSON and plain text never need to load anything; pages bring their own policy.
const apiContentSecurityPolicy = "default-src 'none'; frame-ancestors 'none'";

/** Adds {@link securityHeaders}, `Cache-Control: no-store` (unless set) and, for non-HTML answers, a deny-all CSP. */
export function registerSecurityHeaders(app: FastifyInstance): void {
  app.addHook('onSend', async (_request, reply, payload) => {
    for (const [name, value] of Object.entries(securityHeaders)) reply.header(name, value);
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', defaultCacheControl);
    const type = String(reply.getHeader('content-type') ?? '');
    if (!type.startsWith('text/html') && !reply.hasHeader('content-security-policy')) reply.header('content-security-policy', apiContentSecurityPolicy);
    return payload;
  });
}
