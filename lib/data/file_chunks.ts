/**
 * A file as a stream of large chunks. `FsFile.readable` reads 64 KiB at a time; for the decode stage's
 * 30 MB batch files, reading 1 MiB at a time is about twice as fast (fewer ops, fewer small buffers).
 * Each chunk is a new buffer the consumer may keep.
 *
 * @example
 * ```ts
 * import { fileChunks } from "./file_chunks.ts";
 * let bytes = 0;
 * for await (const chunk of await fileChunks("runs/quick/fetch/test_batch.bin")) bytes += chunk.length;
 * ```
 * @module
 */

/** Options of {@linkcode fileChunks}. */
export interface FileChunksOptions {
  /** Bytes per read (default 1 MiB). */
  chunkBytes?: number;
}

/**
 * Opens `path` and streams its bytes in chunks of up to `chunkBytes`. The file is closed at the end, on
 * cancel and on error.
 *
 * @throws the open error (e.g. `Deno.errors.NotFound`) from the returned promise.
 *
 * @example
 * ```ts
 * const stream = await fileChunks("/tmp/data.bin", { chunkBytes: 4096 });
 * ```
 */
export async function fileChunks(
  path: string,
  options: FileChunksOptions = {},
): Promise<ReadableStream<Uint8Array>> {
  const chunkBytes = options.chunkBytes ?? 1 << 20;
  if (!Number.isInteger(chunkBytes) || chunkBytes < 1) {
    throw new RangeError(`chunkBytes must be an integer ≥ 1, got ${chunkBytes}`);
  }
  const file = await Deno.open(path);
  let closed = false;
  const close = () => {
    if (!closed) {
      closed = true;
      file.close();
    }
  };
  return new ReadableStream<Uint8Array<ArrayBuffer>>({
    async pull(controller) {
      const buffer = new Uint8Array(chunkBytes);
      let read: number | null;
      try {
        read = await file.read(buffer);
      } catch (err) {
        close();
        throw err;
      }
      if (read === null) {
        close();
        controller.close();
      } else {
        controller.enqueue(read === chunkBytes ? buffer : buffer.subarray(0, read));
      }
    },
    cancel: close,
  }, { highWaterMark: 0 });
}
