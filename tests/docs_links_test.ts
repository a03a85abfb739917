/**
 * The docs hold together: every relative link and image in README.md and docs/*.md names a file or folder of
 * the repository, every `#anchor` names a heading of its page (GitHub's heading ids), and every docs page is
 * linked from the README. Pure file reads: links with a scheme (https:, mailto:) are not followed.
 */
import assert from "node:assert/strict";
import { dirname, join, relative, resolve } from "node:path";
import { PROJECT_ROOT } from "../lib/core/paths.ts";

/** A link as written in a Markdown file. */
interface Link {
  /** The file it is written in, relative to the root. */
  file: string;
  /** 1-based line. */
  line: number;
  /** The target as written: `path`, `path#anchor` or `#anchor`. */
  target: string;
}

/** The lines of a Markdown file with fenced code blocks blanked out (their lines kept, for line numbers). */
function proseLines(text: string): string[] {
  let fence: string | null = null;
  return text.split("\n").map((line) => {
    const open = /^\s*(`{3,}|~{3,})/.exec(line);
    if (fence === null && open) {
      fence = open[1][0].repeat(open[1].length);
      return "";
    }
    if (fence !== null) {
      if (line.trim().startsWith(fence)) fence = null;
      return "";
    }
    return line;
  });
}

/** Inline code spans removed: a link inside backticks is an example, not a link. */
function withoutCode(line: string): string {
  return line.replace(/(`+)(?:(?!\1).)+\1/g, "");
}

/** Every link, image and link reference definition of a Markdown text, and every HTML href/src. */
function linksOf(file: string, text: string): Link[] {
  const links: Link[] = [];
  proseLines(text).forEach((raw, i) => {
    const line = withoutCode(raw);
    const found = [
      ...[...line.matchAll(/\]\(\s*<([^>]*)>[^)]*\)/g)].map((m) => m[1]),
      ...[...line.matchAll(/\]\(\s*([^)<\s]+)(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]),
      ...[...line.matchAll(/^\s{0,3}\[[^\]]+\]:\s*<?([^\s>]+)>?/g)].map((m) => m[1]),
      ...[...line.matchAll(/\b(?:href|src)="([^"]+)"/g)].map((m) => m[1]),
    ];
    for (const target of found) links.push({ file, line: i + 1, target });
  });
  return links;
}

/** GitHub's id for a heading: its text lower-cased, punctuation dropped, spaces turned into hyphens. */
function slugOf(heading: string): string {
  const text = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1") // links and images: their text
    .replace(/<[^>]+>/g, "") // inline HTML
    .replace(/[*`]/g, ""); // emphasis and code marks
  return text.trim().toLowerCase().replace(/[^\p{L}\p{N}\p{M}\s_-]/gu, "").replace(/\s/g, "-");
}

/** The anchors a Markdown text defines: heading ids (duplicates numbered as GitHub does) and HTML ids. */
function anchorsOf(text: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of proseLines(text)) {
    const heading = /^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (heading) {
      const slug = slugOf(heading[1]);
      const n = seen.get(slug) ?? 0;
      seen.set(slug, n + 1);
      anchors.add(n === 0 ? slug : `${slug}-${n}`);
    }
    for (const m of line.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) anchors.add(m[1]);
  }
  return anchors;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

/** The Markdown files whose links are checked: README.md and every .md under docs/, relative to `root`. */
async function markdownFiles(root: string): Promise<string[]> {
  const files = ["README.md"];
  const walk = async (dir: string) => {
    for await (const entry of Deno.readDir(join(root, dir))) {
      const rel = `${dir}/${entry.name}`;
      if (entry.isDirectory) await walk(rel);
      else if (entry.name.endsWith(".md")) files.push(rel);
    }
  };
  await walk("docs");
  return files.sort();
}

/** Every relative link of `files` (under `root`) that does not resolve, as `file:line: target: why`. */
async function brokenLinks(root: string, files: string[]): Promise<string[]> {
  const broken: string[] = [];
  const anchorCache = new Map<string, Set<string>>();
  const anchorsIn = async (path: string) => {
    if (!anchorCache.has(path)) anchorCache.set(path, anchorsOf(await Deno.readTextFile(path)));
    return anchorCache.get(path)!;
  };
  for (const file of files) {
    for (const link of linksOf(file, await Deno.readTextFile(join(root, file)))) {
      const { target } = link;
      if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith("//")) continue; // https:, mailto:, …
      const hash = target.indexOf("#");
      const pathPart = hash < 0 ? target : target.slice(0, hash);
      const anchor = hash < 0 ? null : decodeURIComponent(target.slice(hash + 1));
      const path = pathPart === ""
        ? join(root, file)
        : resolve(join(root, dirname(file)), decodeURIComponent(pathPart));
      const where = `${file}:${link.line}: ${target}`;
      const rel = relative(root, path);
      if (rel.startsWith("..")) {
        broken.push(`${where}: leads out of the repository`);
        continue;
      }
      let exists = true;
      try {
        await Deno.stat(path);
      } catch (err) {
        if (!(err instanceof Deno.errors.NotFound)) throw err;
        exists = false;
      }
      if (!exists) {
        broken.push(`${where}: ${rel} does not exist`);
        continue;
      }
      if (anchor === null) continue;
      if (!path.endsWith(".md") || !await isFile(path)) {
        broken.push(`${where}: an anchor into ${rel}, which is not a Markdown file`);
      } else if (!(await anchorsIn(path)).has(anchor)) {
        broken.push(`${where}: ${rel} has no heading #${anchor}`);
      }
    }
  }
  return broken;
}

Deno.test("docs: every relative link and #anchor in README.md and docs/ resolves", async () => {
  const files = await markdownFiles(PROJECT_ROOT);
  assert.ok(files.length >= 5, `found ${files}`);
  const links = (await Promise.all(
    files.map(async (f) => linksOf(f, await Deno.readTextFile(join(PROJECT_ROOT, f)))),
  )).flat();
  assert.ok(links.filter((l) => !/^[a-z]+:/.test(l.target)).length >= 30, `only ${links.length} links`);
  assert.ok(links.some((l) => l.target.includes("#")), "some links have anchors");
  assert.deepEqual(await brokenLinks(PROJECT_ROOT, files), []);
});

Deno.test("docs: every page in docs/ is linked from the README", async () => {
  const files = await markdownFiles(PROJECT_ROOT);
  const fromReadme = new Set(
    linksOf("README.md", await Deno.readTextFile(join(PROJECT_ROOT, "README.md")))
      .map((l) => l.target.split("#")[0]),
  );
  const orphans = files.filter((f) => f.startsWith("docs/") && !fromReadme.has(f));
  assert.deepEqual(orphans, [], "pages the README does not link to");
});

Deno.test("docs: README.md stays short enough to read on one sitting", async () => {
  const lines = (await Deno.readTextFile(join(PROJECT_ROOT, "README.md"))).split("\n").length;
  assert.ok(lines <= 220, `README.md has ${lines} lines; move reference material into docs/`);
});

Deno.test("docs link checker: reports a missing file, a missing heading and a link out of the repository", async () => {
  const root = await Deno.makeTempDir({ prefix: "docs-links-test-" });
  try {
    await Deno.mkdir(join(root, "docs/img"), { recursive: true });
    await Deno.writeFile(join(root, "docs/img/a.png"), new Uint8Array([1]));
    await Deno.writeTextFile(
      join(root, "docs/page.md"),
      [
        "# The page",
        "## Batch norm's `moving` variance",
        "## Twice",
        "## Twice",
        "See [top](#the-page), [bn](#batch-norms-moving-variance) and [again](#twice-1).",
        "```",
        "[in a code block](nowhere.md)",
        "```",
        "Not a link: `[x](nowhere.md)`. ![img](img/a.png) [web](https://example.com/x#y)",
      ].join("\n"),
    );
    await Deno.writeTextFile(
      join(root, "README.md"),
      [
        "# Readme",
        "[ok](docs/page.md#twice) [folder](docs/img/) [file](docs/page.md)",
        "[missing file](docs/gone.md) [missing heading](docs/page.md#nope) [out](../elsewhere.md)",
        '<img src="docs/img/b.png"> [anchor in a picture](docs/img/a.png#x)',
        "[ref]: docs/other.md",
      ].join("\n"),
    );
    const broken = await brokenLinks(root, await markdownFiles(root));
    assert.deepEqual(broken, [
      "README.md:3: docs/gone.md: docs/gone.md does not exist",
      "README.md:3: docs/page.md#nope: docs/page.md has no heading #nope",
      "README.md:3: ../elsewhere.md: leads out of the repository",
      "README.md:4: docs/img/a.png#x: an anchor into docs/img/a.png, which is not a Markdown file",
      "README.md:4: docs/img/b.png: docs/img/b.png does not exist",
      "README.md:5: docs/other.md: docs/other.md does not exist",
    ]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
