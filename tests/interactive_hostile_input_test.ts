/**
 * Hostile or unusual input reaching the form checks: a catastrophic pattern,
 * patterns matched as a whole, field names that are Object.prototype members.
 */
import assert from "node:assert/strict";
import { createPatternSandbox } from "../src/app/pattern_sandbox.ts";
import { checkFormPart, type FormField, formSubmission } from "../src/bridge/interactive.ts";
import { modalFor } from "../src/bridge/interactive_answers.ts";
import type { InteractivePrompt } from "../src/bridge/prompts.ts";
import { memoryLogger } from "./helpers/memory_ports.ts";

Deno.test("a catastrophic form pattern runs aside: the bridge's event loop keeps turning, the check ends in time and passes", async () => {
  const sandbox = createPatternSandbox({ timeoutMs: 150 });
  try {
    const fields: FormField[] = [
      { name: "name", label: "Name", type: "text", pattern: "^([a-zA-Z]+ ?)+$" },
    ];
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 10);
    const started = performance.now();
    const check = await checkFormPart(fields, { f0: "a".repeat(40) + "!" }, 1, sandbox);
    const took = performance.now() - started;
    clearInterval(ticker);
    assert.equal(check.ok, true, "unverifiable in time: passed, as Chatwoot's API would take it");
    assert.ok(took < 1_000, `took ${took} ms`);
    assert.ok(ticks >= 5, `the event loop ran meanwhile (${ticks} ticks)`);
    // The next check gets a fresh worker and a real answer.
    const next = await checkFormPart(
      [{ name: "n", label: "N", type: "text", pattern: "[0-9]+" }],
      { f0: "12x" },
      1,
      sandbox,
    );
    assert.equal(next.ok, false);
  } finally {
    sandbox.close();
  }
});

Deno.test("a pattern must match the whole value, like the widget's HTML pattern attribute", async () => {
  const sandbox = createPatternSandbox();
  try {
    const fields: FormField[] = [{
      name: "order",
      label: "Order",
      type: "text",
      pattern: "[0-9]+",
    }];
    assert.equal((await checkFormPart(fields, { f0: "abc1" }, 1, sandbox)).ok, false);
    assert.equal((await checkFormPart(fields, { f0: "1234" }, 1, sandbox)).ok, true);
    // A pattern that does not compile is not checked (Chatwoot stores the answer all the same).
    const broken: FormField[] = [{ name: "x", label: "X", type: "text", pattern: "([" }];
    assert.equal((await checkFormPart(broken, { f0: "anything" }, 1, sandbox)).ok, true);
  } finally {
    sandbox.close();
  }
});

Deno.test("field names like constructor or __proto__ are plain names: modal prefill and submitted values", async () => {
  const fields: FormField[] = [
    ...Array.from(
      { length: 5 },
      (_, i): FormField => ({ name: `a${i}`, label: `A${i}`, type: "text" }),
    ),
    { name: "constructor", label: "Builder", type: "text" },
    { name: "__proto__", label: "Proto", type: "text" },
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
      tickets: {
        get: () => Promise.resolve({ userId: "u", contactId: 1, sourceId: "u", conversationId: 1 }),
      } as never,
      patterns: () => Promise.resolve(true),
      log: memoryLogger(),
    },
    "u",
    7,
    { action: "form", part: 1 },
  );
  assert.ok("inputs" in modal);
  assert.deepEqual(modal.inputs.map((i) => i.value), [undefined, undefined]);
  const part = await checkFormPart(
    fields.slice(5),
    { f0: "Bob", f1: "p" },
    7,
    () => Promise.resolve(true),
  );
  assert.ok(part.ok);
  assert.deepEqual(formSubmission(fields.slice(5), part.values), [
    { name: "constructor", value: "Bob" },
    { name: "__proto__", value: "p" },
  ]);
});
