import assert from "node:assert/strict";
import { describeOsError } from "../lib/core/os_error.ts";

Deno.test("describeOsError gives a few words for common faults", async () => {
  const fault = async (work: () => Promise<unknown>) =>
    describeOsError(await work().then(() => undefined, (e) => e));
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/file`, "x");
  assert.equal(await fault(() => Deno.readFile(`${dir}/missing`)), "no such file or directory");
  assert.equal(await fault(() => Deno.mkdir(`${dir}/file/sub`, { recursive: true })), "not a directory");
  assert.equal(await fault(() => Deno.readFile(dir)), "is a directory");
  assert.equal(await fault(() => Deno.mkdir(`${dir}/file`)), "already exists");
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  assert.equal(await fault(() => fetch(`http://127.0.0.1:${port}/`)), "connection refused");
  assert.equal(describeOsError(new Error("Something odd (os error 5): read '/x/y'")), "Something odd");
  await Deno.remove(dir, { recursive: true });
});
