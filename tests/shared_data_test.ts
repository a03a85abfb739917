import assert from "node:assert/strict";
import { join } from "node:path";

const FIXTURE = new URL("./fixtures/shared_data.ts", import.meta.url).href;

async function denoTest(file: string, env: Record<string, string> = {}) {
  // The child decides from its own REQUIRE_SHARED_DATA alone, not from the one CI sets for this process.
  const inherited = Deno.env.toObject();
  delete inherited.REQUIRE_SHARED_DATA;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["test", "--allow-all", file],
    clearEnv: true,
    env: { ...inherited, NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, output: text(out.stdout) + text(out.stderr) };
}

Deno.test("a data test without its file is a loud, explicit skip naming the file (a failure under REQUIRE_SHARED_DATA=1)", async () => {
  const root = await Deno.makeTempDir({ prefix: "shared-data-" });
  const file = join(root, "needs_data_test.ts");
  await Deno.writeTextFile(
    file,
    `import { dataTest } from "${FIXTURE}";\n` +
      `dataTest({ name: "reads the archive", needs: ["/nonexistent/cifar-10-binary.tar.gz"], fn() {} });\n`,
  );
  const skipped = await denoTest(file);
  assert.equal(skipped.code, 0, skipped.output);
  assert.match(
    skipped.output,
    /!!! SKIPPED "reads the archive": \/nonexistent\/cifar-10-binary\.tar\.gz is missing/,
  );
  assert.match(
    skipped.output,
    /reads the archive \[SKIPPED: \/nonexistent\/cifar-10-binary\.tar\.gz is missing\] \.\.\. ignored/,
  );
  assert.match(skipped.output, /0 passed \| 0 failed \| 1 ignored/);
  const required = await denoTest(file, { REQUIRE_SHARED_DATA: "1" });
  assert.equal(required.code, 1, required.output);
  assert.match(required.output, /is missing \(REQUIRE_SHARED_DATA=1\)/);
  await Deno.remove(root, { recursive: true });
});
