/**
 * A small SVG writer: escaped elements as strings, so figures are plain text files that need no browser to
 * produce.
 *
 * @example
 * ```ts
 * import { svgDocument, svgElement } from "./svg.ts";
 * const svg = svgDocument(100, 40, [svgElement("text", { x: 4, y: 20, fill: "#1f4fd1" }, "Pred: cat")]);
 * ```
 * @module
 */

/** Attribute values; `undefined`, `null` and `false` leave the attribute out. */
export type SvgAttributes = Record<string, string | number | boolean | null | undefined>;

/**
 * Escape text for XML content and attribute values.
 *
 * @example
 * ```ts
 * escapeXml(`a < b & "c"`); // "a &lt; b &amp; &quot;c&quot;"
 * ```
 */
export function escapeXml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (ch) =>
      ch === "&" ? "&amp;" : ch === "<" ? "&lt;" : ch === ">" ? "&gt;" : ch === '"' ? "&quot;" : "&#39;",
  );
}

/** A number for SVG coordinates: at most 2 decimals, no `-0`. */
export function svgNumber(value: number): string {
  if (!Number.isFinite(value)) return "0";
  const rounded = Math.round(value * 100) / 100;
  return String(rounded === 0 ? 0 : rounded);
}

function attributeText(attrs: SvgAttributes): string {
  let out = "";
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    const text = value === true ? name : typeof value === "number" ? svgNumber(value) : value;
    out += ` ${name}="${escapeXml(text)}"`;
  }
  return out;
}

/**
 * One element. String children are escaped text; use {@linkcode SvgMarkup} (from another `svgElement`) for
 * nested elements.
 *
 * @example
 * ```ts
 * svgElement("g", {}, svgElement("rect", { width: 4, height: 4 }), svgElement("text", {}, "a<b"));
 * ```
 */
export function svgElement(
  tag: string,
  attrs: SvgAttributes = {},
  ...children: (SvgMarkup | string)[]
): SvgMarkup {
  const inner = children.map((c) => (c instanceof SvgMarkup ? c.markup : escapeXml(c))).join("");
  return new SvgMarkup(
    inner === "" ? `<${tag}${attributeText(attrs)}/>` : `<${tag}${attributeText(attrs)}>${inner}</${tag}>`,
  );
}

/** Already-escaped SVG markup. */
export class SvgMarkup {
  /** The markup text. */
  readonly markup: string;
  constructor(markup: string) {
    this.markup = markup;
  }
  /** The markup text. */
  toString(): string {
    return this.markup;
  }
}

/**
 * A whole SVG file: XML declaration, the `svg` root with a white background, and the children.
 *
 * @example
 * ```ts
 * await Deno.writeTextFile("figure.svg", svgDocument(320, 200, [svgElement("circle", { r: 3 })]));
 * ```
 */
export function svgDocument(
  width: number,
  height: number,
  children: SvgMarkup[],
  options: { title?: string; background?: string } = {},
): string {
  const root = svgElement(
    "svg",
    {
      xmlns: "http://www.w3.org/2000/svg",
      "xmlns:xlink": "http://www.w3.org/1999/xlink",
      width,
      height,
      viewBox: `0 0 ${svgNumber(width)} ${svgNumber(height)}`,
      "font-family": "DejaVu Sans, Helvetica, Arial, sans-serif",
    },
    ...(options.title ? [svgElement("title", {}, options.title)] : []),
    svgElement("rect", { width, height, fill: options.background ?? "#ffffff" }),
    ...children,
  );
  return `<?xml version="1.0" encoding="UTF-8"?>\n${root.markup}\n`;
}
