/**
 * Review of issue 14 (outside reviewer): hostile or unusual input reaching
 * the form checks and the modal, tested on the bridge's own functions. These
 * tests describe what should happen; they may fail on the code under review.
 */
import assert from "node:assert/strict";
import { checkFormPart, type FormField } from "../src/bridge/interactive.ts";
import { modalFor } from "../src/bridge/interactive_answers.ts";
import type { InteractivePrompt } from "../src/bridge/prompts.ts";

Deno.test("review14: a catastrophic form pattern cannot freeze the bridge (the check ends within 2 s)", async () => {
  // A pattern an agent could well write for a full name; the user controls the value.
  const code = `
    import { checkFormPart } from ${
    JSON.stringify(new URL("../src/bridge/interactive.ts", import.meta.url).href)
  };
    const fields = [{ name: "name", label: "Name", type: "text", pattern: "^([a-zA-Z]+ ?)+$" }];
    const t = performance.now();
    checkFormPart(fields, { f0: "a".repeat(40) + "!" });
    self.postMessage(performance.now() - t);
  `;
  const worker = new Worker(
    URL.createObjectURL(new Blob([code], { type: "application/javascript" })),
    { type: "module" },
  );
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const took = await Promise.race([
      new Promise<number>((resolve) => worker.onmessage = (e) => resolve(e.data)),
      new Promise<"stuck">((resolve) => timer = setTimeout(() => resolve("stuck"), 2_000)),
    ]);
    assert.notEqual(took, "stuck", "one 41-character answer kept the event loop busy past 2 s");
  } finally {
    clearTimeout(timer);
    worker.terminate();
  }
});

Deno.test("review14: a pattern is matched against the whole value, like the widget's HTML pattern attribute", () => {
  const fields: FormField[] = [{ name: "order", label: "Order", type: "text", pattern: "[0-9]+" }];
  // The widget (<input pattern>) anchors ^(?:…)$: "abc1" is refused there.
  assert.equal(checkFormPart(fields, { f0: "abc1" }).ok, false);
});

Deno.test("review14: a form field named like an Object.prototype member opens its modal (part 2 after part 1)", async () => {
  const fields: FormField[] = [
    ...Array.from(
      { length: 5 },
      (_, i): FormField => ({ name: `a${i}`, label: `A${i}`, type: "text" }),
    ),
    { name: "constructor", label: "Builder", type: "text" },
  ];
  const prompt: InteractivePrompt = {
    chatwootMessageId: 7,
    userId: "u",
    conversationId: 1,
    content: { type: "form", fields },
    formValues: { a0: "x", a1: "x", a2: "x", a3: "x", a4: "x" },
    partsDone: [0],
  };
  const modal = await modalFor(
    {
      interactive: {
        get: () => Promise.resolve(prompt),
        recordOnce: () => Promise.resolve(),
        update: () => Promise.resolve(prompt),
      },
      mailbox: { append: () => Promise.resolve(true), resume: () => {} },
      log: {
        info() {},
        warn() {},
        error() {},
        debug() {},
        child() {
          return this;
        },
      } as never,
    },
    "u",
    7,
    { action: "form", part: 1 },
  );
  assert.ok("inputs" in modal);
  const value = modal.inputs[0].value;
  assert.ok(value === undefined || typeof value === "string", `prefilled with ${typeof value}`);
});
