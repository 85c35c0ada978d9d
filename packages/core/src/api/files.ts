/**
 * The contract of the partition explorer (issue 11): browse a partition of a server in rescue
 * read-only, read a file by ranges, download a file or a directory (a tar stream), read the installed
 * system's journal. Pure data: no I/O, bundled for the agent (QuickJS) and the browser.
 *
 * Flow: a user route queues agent work of one of the kinds below and waits for its result. A download
 * is different: the agent (outbound only) answers {@link filesDownloadWork} by sending the bytes with
 * `PUT /v1/agent/work/{id}/upload` (a streamed body, headers {@link uploadTypeHeader} and, for a
 * file, {@link uploadSizeHeader}), which the control plane pipes into the waiting user's answer.
 */
import { Type, type Static } from '@sinclair/typebox';
import { DeviceName } from './hardware-tests.js';

/** Agent work: list a directory ({@link FilesWorkParams} → {@link FileListingResult}). */
export const filesListWork = 'files_list';
/** Agent work: read a range of a file ({@link FilesReadWorkParams} → {@link FileRangeResult}). */
export const filesReadWork = 'files_read';
/** Agent work: upload a file or a directory as tar ({@link FilesWorkParams}, then `PUT .../upload`). */
export const filesDownloadWork = 'files_download';
/** Agent work: the installed system's journal ({@link JournalWorkParams} → {@link JournalResult}). */
export const journalReadWork = 'journal_read';

/** The most bytes one `content` call returns. */
export const maxContentLength = 1024 * 1024;
/** The `length` of a `content` call without one. */
export const defaultContentLength = 64 * 1024;
/** The most entries one listing returns (the rest is cut, `truncated: true`). */
export const maxListingEntries = 10_000;
/** Response header of `content`: the whole file's size in bytes. */
export const fileSizeHeader = 'x-lifeboat-file-size';
/** Upload header: `file` or `directory` (a tar stream). */
export const uploadTypeHeader = 'x-lifeboat-type';
/** Upload header (a file): its size in bytes. */
export const uploadSizeHeader = 'x-lifeboat-size';

/** An absolute path inside the partition (`/`, `/var/log`); `..` is refused. */
export const FilePath = Type.String({ minLength: 1, maxLength: 4096, pattern: '^/' });

export const FileTypeSchema = Type.Union([Type.Literal('file'), Type.Literal('directory'), Type.Literal('symlink'), Type.Literal('other')]);
export type FileType = Static<typeof FileTypeSchema>;

/** One directory entry. A symlink is listed as such with its target, never followed. */
export const FileEntry = Type.Object({
  name: Type.String(),
  type: FileTypeSchema,
  size: Type.Integer({ minimum: 0 }),
  /** Permission bits and type bits as an octal string (`100644`). */
  mode: Type.String(),
  /** Last modification, ISO 8601. */
  mtime: Type.String(),
  /** A symlink's target as written in the link; null for others. */
  target: Type.Union([Type.String(), Type.Null()]),
});
export type FileEntry = Static<typeof FileEntry>;

/** `GET /v1/servers/{name}/files/{device}?path=`. */
export const FileListing = Type.Object({
  server: Type.String(),
  device: Type.String(),
  /** The directory listed, as resolved inside the partition (symlinks inside it followed). */
  path: Type.String(),
  entries: Type.Array(FileEntry),
  /** True when the directory has more than {@link maxListingEntries} entries (additive field). */
  truncated: Type.Boolean(),
});
export type FileListing = Static<typeof FileListing>;

/** The device of the explorer's routes (URL-encoded in the path: `vg0%2Froot`). */
export const DeviceParams = Type.Object({ name: Type.String({ minLength: 1, maxLength: 63 }), device: DeviceName });
export type DeviceParams = Static<typeof DeviceParams>;
export const PathQuery = Type.Object({ path: Type.Optional(FilePath) }, { additionalProperties: false });
export type PathQuery = Static<typeof PathQuery>;
export const ContentQuery = Type.Object(
  {
    path: FilePath,
    offset: Type.Optional(Type.Integer({ minimum: 0 })),
    length: Type.Optional(Type.Integer({ minimum: 1, maximum: maxContentLength })),
  },
  { additionalProperties: false },
);
export type ContentQuery = Static<typeof ContentQuery>;
export const DownloadQuery = Type.Object({ path: FilePath }, { additionalProperties: false });
export type DownloadQuery = Static<typeof DownloadQuery>;

/** journalctl's priorities. */
export const journalPriorities = ['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug'] as const;
export type JournalPriority = (typeof journalPriorities)[number];
/** `GET /v1/servers/{name}/journal?device=&lines=200&boot=0&priority=err`. */
export const JournalQuery = Type.Object(
  {
    device: DeviceName,
    lines: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000, default: 200 })),
    /** journalctl's `-b` offset, counted in the installed system's journal (default 0: the last boot it recorded). */
    boot: Type.Optional(Type.Integer({ minimum: -1000, maximum: 0 })),
    priority: Type.Optional(Type.Unsafe<JournalPriority>({ type: 'string', enum: [...journalPriorities] })),
  },
  { additionalProperties: false },
);
export type JournalQuery = Static<typeof JournalQuery>;

/** What the agent receives with {@link filesListWork} and {@link filesDownloadWork}. */
export const FilesWorkParams = Type.Object({ device: Type.String(), path: Type.String() });
export type FilesWorkParams = Static<typeof FilesWorkParams>;
/** What the agent receives with {@link filesReadWork}. */
export const FilesReadWorkParams = Type.Object({ device: Type.String(), path: Type.String(), offset: Type.Integer({ minimum: 0 }), length: Type.Integer({ minimum: 1, maximum: maxContentLength }) });
export type FilesReadWorkParams = Static<typeof FilesReadWorkParams>;
/** What the agent receives with {@link journalReadWork}. */
export const JournalWorkParams = Type.Object({ device: Type.String(), lines: Type.Integer(), boot: Type.Integer(), priority: Type.Union([Type.String(), Type.Null()]) });
export type JournalWorkParams = Static<typeof JournalWorkParams>;

/** The agent's result of {@link filesListWork}. */
export type FileListingResult = Omit<FileListing, 'server' | 'device'>;
/** The agent's result of {@link filesReadWork}: the bytes in base64 (the agent API is JSON). */
export interface FileRangeResult {
  readonly path: string;
  readonly size: number;
  readonly offset: number;
  readonly data: string;
}
/** The agent's result of {@link journalReadWork}. */
export interface JournalResult {
  readonly text: string;
}
/** A failed explorer work's result: the error code the user gets (`PATH_INVALID`, `DEVICE_BUSY`…). */
export interface ExplorerFailure {
  readonly code: string;
}
