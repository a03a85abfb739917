import assert from "node:assert/strict";
import { formatStepLine } from "../lib/train/reporter.ts";

Deno.test("formatStepLine prints the tutorial's log line", () => {
  assert.equal(
    formatStepLine(1, 5, 1, 196, 2.30127),
    "Epoch: [  1/  5], Steps: [  1/196], Train Loss: [2.301]",
  );
  assert.equal(
    formatStepLine(5, 5, 196, 196, 1.4949),
    "Epoch: [  5/  5], Steps: [196/196], Train Loss: [1.495]",
  );
});
