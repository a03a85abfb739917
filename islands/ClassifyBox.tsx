/**
 * "Classify an image": pick a PNG or JPEG, it is posted to `/api/runs/:id/classify`, and the run's best
 * checkpoint answers with its top-3 classes, drawn as bars. Pictures over the bound are refused here
 * before any upload, and the server checks again.
 *
 * @example
 * ```tsx
 * import ClassifyBox from "./ClassifyBox.tsx";
 * export const box = <ClassifyBox runId="quick" maxBytes={2_000_000} />;
 * ```
 * @module
 */
import { useSignal } from "@preact/signals";
import { formatBytes } from "@/lib/core/format.ts";

/** Props of {@linkcode ClassifyBox}. */
export interface ClassifyBoxProps {
  runId: string;
  /** The server's upload bound, in bytes. */
  maxBytes: number;
}

interface Answer {
  file: string;
  width: number;
  height: number;
  top: { class: string; probability: number }[];
}

/** The upload box and its answer. */
export default function ClassifyBox({ runId, maxBytes }: ClassifyBoxProps) {
  const answer = useSignal<Answer | null>(null);
  const error = useSignal<string | null>(null);
  const busy = useSignal(false);
  const preview = useSignal<string | null>(null);

  const onChange = async (event: Event) => {
    const input = event.currentTarget as HTMLInputElement;
    const file = input.files?.[0];
    if (!file) return;
    answer.value = null;
    error.value = null;
    if (file.size > maxBytes) {
      error.value = `${file.name} is ${formatBytes(file.size)}; the limit is ${formatBytes(maxBytes)}`;
      return;
    }
    const reader = new FileReader();
    reader.onload = () => (preview.value = typeof reader.result === "string" ? reader.result : null);
    reader.readAsDataURL(file);
    busy.value = true;
    try {
      const type = file.type || (/\.png$/i.test(file.name) ? "image/png" : "image/jpeg");
      const res = await fetch(
        `/api/runs/${encodeURIComponent(runId)}/classify?name=${encodeURIComponent(file.name)}`,
        { method: "POST", headers: { "content-type": type }, body: file },
      );
      const body = await res.json().catch(() => ({ error: `the server answered ${res.status}` }));
      if (!res.ok) error.value = body.error ?? `the server answered ${res.status}`;
      else answer.value = body as Answer;
    } catch (err) {
      error.value = `upload failed: ${(err as Error).message}`;
    } finally {
      busy.value = false;
    }
  };

  return (
    <div class="classify-box">
      <label>
        Classify an image (PNG or JPEG, up to {formatBytes(maxBytes)}):{" "}
        <input type="file" accept="image/png,image/jpeg" onChange={onChange} />
      </label>
      {busy.value && <p class="busy">classifying…</p>}
      {error.value && <p class="error classify-error">{error.value}</p>}
      {answer.value && (
        <div class="classify-answer">
          {preview.value && <img class="classify-preview" src={preview.value} alt={answer.value.file} />}
          <p>
            {answer.value.file} ({answer.value.width}×{answer.value.height}, seen as 32×32):
          </p>
          <ol class="classify-top">
            {answer.value.top.map((s) => (
              <li key={s.class}>
                <span class="class">{s.class}</span>
                <span class="bar" style={{ width: `${Math.max(1, s.probability * 100).toFixed(1)}%` }} />
                <span class="p">{(s.probability * 100).toFixed(1)} %</span>
              </li>
            ))}
          </ol>
        </div>
      )}
    </div>
  );
}
