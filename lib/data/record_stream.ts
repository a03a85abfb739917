/**
 * A stream that cuts bytes, in any chunking, into CIFAR-10 records and decodes each into
 * `{ label, image }` (HWC uint8).
 *
 * @example
 * ```ts
 * import { RecordStream } from "./record_stream.ts";
 * using file = await Deno.open("runs/quick/fetch/test_batch.bin");
 * for await (const { label, image } of file.readable.pipeThrough(new RecordStream({ file: "test_batch.bin" }))) {
 *   console.log(label, image.length); // 3 3072
 *   break;
 * }
 * ```
 * @module
 */
import { chwToHwc, type CifarRecord, IMAGE_BYTES, NUM_CLASSES, RECORD_BYTES } from "./cifar_format.ts";
import { PipelineError } from "../core/mod.ts";

/** Options of {@linkcode RecordStream}. */
export interface RecordStreamOptions {
  /** The file name used in error lines (default "input"). */
  file?: string;
  /** The stage errors are reported for (default "decode"). */
  stage?: string;
  /** Labels must be below this (default 10). */
  numClasses?: number;
  /**
   * Decode images straight into this buffer: record k's image is `target[k·3072, (k+1)·3072)`. Records past
   * its end get buffers of their own. Without it, the images cut from one chunk share one new buffer.
   */
  target?: Uint8Array;
}

/**
 * Cuts a byte stream into 3,073-byte records and turns each into a {@linkcode CifarRecord}. A record may
 * span any number of chunks, and a chunk may hold any number of records.
 *
 * Images are views: into `options.target` when given (no copy at all), else into one buffer per input chunk
 * (one allocation per chunk, not per record). Copy an image before changing it in place.
 *
 * Errors (as {@linkcode PipelineError}): a label byte ≥ 10 ("Cannot decode record 17 of test_batch.bin: label
 * must be < 10, got 12"; records count from 0), and a stream whose length is not a multiple of 3,073.
 *
 * @example
 * ```ts
 * const bytes = new Uint8Array(2 * 3073); // two records of class 0
 * const records = await Array.fromAsync(
 *   new Blob([bytes]).stream().pipeThrough(new RecordStream({ file: "two.bin" })),
 * );
 * records.length; // 2
 * ```
 */
export class RecordStream extends TransformStream<Uint8Array, CifarRecord> {
  #pending = new Uint8Array(RECORD_BYTES);
  #pendingBytes = 0;
  #records = 0;
  #bytes = 0;
  #file: string;
  #stage: string;
  #numClasses: number;
  #target: Uint8Array | undefined;

  constructor(options: RecordStreamOptions = {}) {
    super({
      transform: (chunk, controller) => this.#transform(chunk, controller),
      flush: () => this.#flush(),
    });
    this.#file = options.file ?? "input";
    this.#stage = options.stage ?? "decode";
    this.#numClasses = options.numClasses ?? NUM_CLASSES;
    this.#target = options.target;
  }

  /** Records emitted so far. */
  get records(): number {
    return this.#records;
  }

  #transform(chunk: Uint8Array, controller: TransformStreamDefaultController<CifarRecord>): void {
    this.#bytes += chunk.length;
    let offset = 0;
    if (this.#pendingBytes > 0) {
      const take = Math.min(RECORD_BYTES - this.#pendingBytes, chunk.length);
      this.#pending.set(chunk.subarray(0, take), this.#pendingBytes);
      this.#pendingBytes += take;
      offset = take;
      if (this.#pendingBytes < RECORD_BYTES) return;
      controller.enqueue(this.#decode(this.#pending, 0, this.#room(1)[0]));
      this.#pendingBytes = 0;
    }
    const whole = Math.floor((chunk.length - offset) / RECORD_BYTES);
    const room = this.#room(whole);
    for (let k = 0; k < whole; k++, offset += RECORD_BYTES) {
      controller.enqueue(this.#decode(chunk, offset, room[k]));
    }
    if (offset < chunk.length) {
      this.#pending.set(chunk.subarray(offset), 0);
      this.#pendingBytes = chunk.length - offset;
    }
  }

  /** Where the next `count` images go: views into the target while it has room, then into one new buffer. */
  #room(count: number): Uint8Array[] {
    const first = this.#records;
    const inTarget = Math.max(
      0,
      Math.min(count, Math.floor((this.#target?.length ?? 0) / IMAGE_BYTES) - first),
    );
    const fresh = inTarget < count ? new Uint8Array((count - inTarget) * IMAGE_BYTES) : undefined;
    const room: Uint8Array[] = new Array(count);
    for (let k = 0; k < count; k++) {
      room[k] = k < inTarget
        ? this.#target!.subarray((first + k) * IMAGE_BYTES, (first + k + 1) * IMAGE_BYTES)
        : fresh!.subarray((k - inTarget) * IMAGE_BYTES, (k - inTarget + 1) * IMAGE_BYTES);
    }
    return room;
  }

  #decode(bytes: Uint8Array, offset: number, out: Uint8Array): CifarRecord {
    const label = bytes[offset];
    if (label >= this.#numClasses) {
      throw new PipelineError(
        this.#stage,
        `Cannot decode record ${this.#records} of ${this.#file}: label must be < ${this.#numClasses}, got ${label}`,
      );
    }
    const image = chwToHwc(bytes.subarray(offset + 1, offset + RECORD_BYTES), out);
    this.#records++;
    return { label, image };
  }

  #flush(): void {
    if (this.#pendingBytes > 0) {
      throw new PipelineError(
        this.#stage,
        `Cannot decode ${this.#file}: its length ${this.#bytes} is not a multiple of the ${RECORD_BYTES}-byte ` +
          `record (${this.#pendingBytes} bytes left over after ${this.#records} records)`,
      );
    }
  }
}
