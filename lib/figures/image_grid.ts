/**
 * Raster image grids: CIFAR-10 tiles (32 × 32 × 3 uint8 HWC) scaled up with nearest-neighbour, each in an
 * optional coloured frame, laid out in rows. The same layout places the titles of the SVG figures.
 *
 * @example
 * ```ts
 * import { gridLayout, renderGrid } from "./image_grid.ts";
 * const tiles = [{ pixels: new Uint8Array(32 * 32 * 3) }];
 * const image = renderGrid(tiles, gridLayout(1, { columns: 1 }));
 * console.log(image.width); // 32 * 4 + 2 * 3 + 2 * 8
 * ```
 * @module
 */
import type { RasterImage } from "./png.ts";
import { IMAGE_BYTES, IMAGE_SIZE } from "../data/mod.ts";

/** An RGB colour as three bytes. */
export type Rgb = [number, number, number];

/** One tile of a grid. */
export interface GridTile {
  /** 32 × 32 × 3 uint8 HWC pixels. */
  pixels: Uint8Array;
  /** Colour of the frame around the tile; none when absent. */
  frame?: Rgb;
}

/** Options of {@linkcode gridLayout}. */
export interface GridLayoutOptions {
  /** Tiles per row. */
  columns: number;
  /** Nearest-neighbour scale of each 32-pixel tile (default 4). */
  scale?: number;
  /** Frame width around each tile in pixels (default 3). */
  frame?: number;
  /** Space between cells and around the grid in pixels (default 8). */
  gap?: number;
  /** Space above each cell, for a title drawn by the SVG figure (default 0). */
  titleHeight?: number;
  /** Least width of a cell, so a title fits; the tile is centred in it (default: the framed tile). */
  minCellWidth?: number;
}

/** Where each tile of a grid lies. */
export interface GridLayout {
  width: number;
  height: number;
  columns: number;
  rows: number;
  /** Side of a scaled tile (pixels). */
  tileSize: number;
  /** Frame width (pixels). */
  frame: number;
  /** Height reserved for the title above each cell (pixels). */
  titleHeight: number;
  /** Width of a cell (pixels); the framed tile is centred in it. */
  cellWidth: number;
  /** Top-left corner of each tile's pixels (inside its frame). */
  cells: { x: number; y: number }[];
}

/**
 * Lay out `count` tiles in rows of `columns`.
 *
 * @example
 * ```ts
 * gridLayout(6, { columns: 3 }).rows; // 2
 * ```
 */
export function gridLayout(count: number, options: GridLayoutOptions): GridLayout {
  const columns = Math.max(1, Math.min(options.columns, Math.max(count, 1)));
  const scale = options.scale ?? 4;
  const frame = options.frame ?? 3;
  const gap = options.gap ?? 8;
  const titleHeight = options.titleHeight ?? 0;
  const tileSize = IMAGE_SIZE * scale;
  const cellWidth = Math.max(tileSize + 2 * frame, options.minCellWidth ?? 0);
  const inset = Math.floor((cellWidth - tileSize - 2 * frame) / 2);
  const cellHeight = titleHeight + tileSize + 2 * frame;
  const rows = Math.max(1, Math.ceil(count / columns));
  const cells = Array.from({ length: count }, (_, i) => {
    const col = i % columns, row = Math.floor(i / columns);
    return {
      x: gap + col * (cellWidth + gap) + inset + frame,
      y: gap + row * (cellHeight + gap) + titleHeight + frame,
    };
  });
  return {
    width: gap + columns * (cellWidth + gap),
    height: gap + rows * (cellHeight + gap),
    columns,
    rows,
    tileSize,
    frame,
    titleHeight,
    cellWidth,
    cells,
  };
}

/**
 * Draw tiles into one RGB image on a white background, following `layout`.
 *
 * @example
 * ```ts
 * const pixels = new Uint8Array(32 * 32 * 3);
 * const image = renderGrid([{ pixels, frame: [31, 79, 209] }], gridLayout(1, { columns: 1 }));
 * ```
 */
export function renderGrid(tiles: GridTile[], layout: GridLayout): RasterImage {
  const { width, height, tileSize, frame } = layout;
  const data = new Uint8Array(width * height * 3).fill(255);
  const scale = tileSize / IMAGE_SIZE;
  tiles.forEach((tile, i) => {
    const cell = layout.cells[i];
    if (!cell) return;
    if (tile.pixels.length !== IMAGE_BYTES) {
      throw new RangeError(`Cannot draw tile ${i}: expected ${IMAGE_SIZE}×${IMAGE_SIZE}×3 bytes`);
    }
    if (tile.frame && frame > 0) {
      fillRect(
        data,
        width,
        cell.x - frame,
        cell.y - frame,
        tileSize + 2 * frame,
        tileSize + 2 * frame,
        tile.frame,
      );
    }
    for (let y = 0; y < tileSize; y++) {
      const sy = Math.floor(y / scale);
      const rowOut = ((cell.y + y) * width + cell.x) * 3;
      for (let x = 0; x < tileSize; x++) {
        const src = (sy * IMAGE_SIZE + Math.floor(x / scale)) * 3;
        const o = rowOut + x * 3;
        data[o] = tile.pixels[src];
        data[o + 1] = tile.pixels[src + 1];
        data[o + 2] = tile.pixels[src + 2];
      }
    }
  });
  return { width, height, channels: 3, data };
}

function fillRect(data: Uint8Array, width: number, x0: number, y0: number, w: number, h: number, rgb: Rgb) {
  for (let y = y0; y < y0 + h; y++) {
    for (let x = x0; x < x0 + w; x++) {
      const o = (y * width + x) * 3;
      data[o] = rgb[0];
      data[o + 1] = rgb[1];
      data[o + 2] = rgb[2];
    }
  }
}

/**
 * Scale one 32 × 32 tile by an integer factor (nearest neighbour), without frame or margin.
 *
 * @example
 * ```ts
 * const pixels = new Uint8Array(32 * 32 * 3);
 * scaleTile(pixels, 2).width; // 64
 * ```
 */
export function scaleTile(pixels: Uint8Array, scale: number): RasterImage {
  return renderGrid([{ pixels }], gridLayout(1, { columns: 1, scale, frame: 0, gap: 0 }));
}

/**
 * `#rrggbb` as three bytes.
 *
 * @example
 * ```ts
 * hexToRgb("#1f4fd1"); // [31, 79, 209]
 * ```
 */
export function hexToRgb(hex: string): Rgb {
  const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex);
  if (!m) throw new RangeError(`Not a #rrggbb colour: ${hex}`);
  return [parseInt(m[1], 16), parseInt(m[2], 16), parseInt(m[3], 16)];
}
