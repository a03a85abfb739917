/**
 * SHA-256 of bytes, files (streamed) and JSON values (canonical: keys sorted).
 *
 * @example
 * ```ts
 * import { sha256Hex, canonicalJson } from "./hash.ts";
 * await sha256Hex(new TextEncoder().encode(canonicalJson({ b: 1, a: 2 })));
 * ```
 * @module
 */
import { createHash } from "node:crypto";

/** Hex SHA-256 of bytes. */
export async function sha256Hex(bytes: Uint8Array | string): Promise<string> {
  const data = typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes;
  const digest = await crypto.subtle.digest("SHA-256", data as Uint8Array<ArrayBuffer>);
  return toHex(new Uint8Array(digest));
}

/** Hex of bytes. */
export function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * An incremental SHA-256 (WebCrypto has none), for hashing streams without holding them in memory.
 *
 * @example
 * ```ts
 * const h = incrementalSha256();
 * h.update(new Uint8Array([1, 2]));
 * h.digestHex();
 * ```
 */
export function incrementalSha256(): { update(chunk: Uint8Array): void; digestHex(): string } {
  const hash = createHash("sha256");
  return {
    update: (chunk) => void hash.update(chunk),
    digestHex: () => hash.digest("hex"),
  };
}

/** Hex SHA-256 of a file, read as a stream. */
export async function sha256File(path: string): Promise<string> {
  const h = incrementalSha256();
  using file = await Deno.open(path);
  for await (const chunk of file.readable) h.update(chunk);
  return h.digestHex();
}

/** JSON with object keys sorted at every depth, so equal values always give equal text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v) => {
    if (v && typeof v === "object" && !Array.isArray(v) && !(ArrayBuffer.isView(v))) {
      return Object.fromEntries(Object.keys(v).sort().map((k) => [k, (v as Record<string, unknown>)[k]]));
    }
    return v;
  });
}
