/**
 * The netboot endpoint iPXE talks to: `GET /boot.ipxe`, `GET /v1/boot/{mac}.ipxe` and the rescue
 * image files under `/v1/images/{imageId}/{file}`. Unauthenticated by nature (firmware carries no
 * token): it reveals nothing but boot scripts, and the only secret in a rescue script is the boot
 * attempt's credential, which only the address it is bound to is given (docs/security.md).
 * Boot scripts are rate-limited per address; image files are not (they are the bytes of a boot storm).
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { LifeboatError, isValidProfileName, parseMac } from '@lifeboat/core';
import { join } from 'node:path';
import { redirectFile, sendFile } from './file-response.js';
import { fetchSteps, imageFiles, imageIdPattern, type ImageFile, type ImageRegistry } from './image-registry.js';
import { chainScript, localDiskScript, rescueScript, type RetryPolicy } from './ipxe-scripts.js';
import type { NetbootSource } from './netboot-source.js';
import { clientAddress, MemoryRateLimiter, refuseWhenLimited, type RateLimiter } from '../http/rate-limiter.js';

/** What the netboot routes need. */
export interface NetbootRoutesOptions {
  /** Who boots what, by MAC. */
  readonly source: NetbootSource;
  /** Where rescue images live. */
  readonly images: ImageRegistry;
  /** The control plane's URL as servers reach it (`http://10.0.2.2:8080`); it goes into every script. */
  readonly bootUrl: string;
  /** Retries of the scripts. */
  readonly retry?: RetryPolicy;
  /** Boot scripts per client address (default: none). */
  readonly scriptLimiter?: RateLimiter;
  /** Image files go out through the nginx in front: `X-Accel-Redirect: PREFIX/PATH` (null: streamed here). */
  readonly accelRedirect?: string | null;
}

const ScriptParams = Type.Object({ script: Type.String({ pattern: '^[0-9A-Fa-f:.-]{12,17}\\.ipxe$' }) });
const ImageParams = Type.Object({
  imageId: Type.String({ pattern: imageIdPattern }),
  file: Type.Union(imageFiles.map((file) => Type.Literal(file))),
});
const ImageQuery = Type.Object({ server: Type.Optional(Type.String({ maxLength: 128 })) });
const ScriptReply = { 200: { type: 'string', description: 'an iPXE script' } } as const;

function sendScript(reply: FastifyReply, script: string): FastifyReply {
  // A rescue script holds a one-time token: no cache may keep it.
  return reply.header('Cache-Control', 'no-store').type('text/plain; charset=utf-8').send(script);
}

/** Registers the netboot routes on a Fastify instance: `app.register(netbootRoutes, options)`. */
export async function netbootRoutes(app: FastifyInstance, options: NetbootRoutesOptions): Promise<void> {
  const bootUrl = options.bootUrl.replace(/\/+$/, '');
  const { source, images } = options;
  const bootScript = chainScript(bootUrl, options.retry);
  const limiter = options.scriptLimiter ?? new MemoryRateLimiter(null);
  const limited = { onRequest: async (request: FastifyRequest, reply: FastifyReply) => refuseWhenLimited(reply, await limiter.take(clientAddress(request)), 'boot scripts from this address') };

  app.get('/boot.ipxe', { ...limited, schema: { summary: 'iPXE entry script: chains to the script for this MAC', tags: ['netboot'], response: ScriptReply } }, async (_request, reply) =>
    sendScript(reply, bootScript),
  );

  app.get<{ Params: Static<typeof ScriptParams> }>(
    '/v1/boot/:script',
    { ...limited, schema: { summary: 'iPXE script for one MAC: rescue image or local disk', tags: ['netboot'], params: ScriptParams, response: ScriptReply } },
    async (request, reply) => {
      const mac = parseMac(request.params.script.slice(0, -'.ipxe'.length));
      const address = clientAddress(request);
      const target = await source.bootTargetFor(mac, address);
      if (target.kind === 'rescue' && !isValidProfileName(target.imageId)) {
        // A profile registered before names were checked (a space, a newline, `../`): it can go into
        // no script or path. The server boots its disk and the timeline says why.
        await source.recordBootStep(target.serverId, 'ipxe_script_served', address, `local disk: the profile ${JSON.stringify(target.imageId.slice(0, 64))} is not a valid profile name`);
        return sendScript(reply, localDiskScript());
      }
      if (target.kind === 'rescue') {
        const script = rescueScript({ bootUrl, serverId: target.serverId, imageId: target.imageId, bootToken: target.bootToken }, options.retry);
        await source.recordBootStep(target.serverId, 'ipxe_script_served', address, `rescue image ${target.imageId}`);
        return sendScript(reply, script);
      }
      // A local-disk answer records nothing: anyone may ask for any MAC, and no timeline is theirs to write.
      return sendScript(reply, localDiskScript());
    },
  );

  app.route<{ Params: Static<typeof ImageParams>; Querystring: Static<typeof ImageQuery> }>({
    method: ['GET', 'HEAD'],
    url: '/v1/images/:imageId/:file',
    schema: { summary: 'A rescue image file, streamed with Range and ETag', tags: ['netboot'], params: ImageParams, querystring: ImageQuery },
    handler: async (request, reply) => {
      const { imageId } = request.params;
      const file: ImageFile = request.params.file;
      const dir = await images.directoryOf(imageId);
      const serverId = request.query.server;
      // Read now: once the body is sent, the client may be gone, and its socket's address with it.
      const address = clientAddress(request);
      const record = (whole: boolean, detail: string) => {
        if (!whole || serverId === undefined) return;
        source.recordBootStep(serverId, fetchSteps[file], address, detail).catch((error: unknown) => {
          request.log.warn({ err: error, step: fetchSteps[file] }, 'could not record a boot step');
        });
      };
      let sent = false;
      if (dir !== undefined && options.accelRedirect) {
        const size = await redirectFile(reply, join(dir, file), options.accelRedirect);
        sent = size !== undefined;
        if (size !== undefined && request.method === 'GET') record(request.headers.range === undefined, `${size} bytes, handed to the front web server`);
      } else if (dir !== undefined) {
        sent = await sendFile(request, reply, join(dir, file), ({ bytes, whole, ms }) => record(whole, `${bytes} bytes in ${ms} ms`));
      }
      if (!sent) throw new LifeboatError('IMAGE_NOT_FOUND', `no rescue image file ${imageId}/${file}`);
      return reply;
    },
  });
}
