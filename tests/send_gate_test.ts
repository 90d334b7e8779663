import assert from "node:assert/strict";
import { createSendGate } from "../src/discord/send_gate.ts";

Deno.test("the send gate lets at most N sends through in any rolling second, in call order", async () => {
  let now = 0;
  const clock = {
    now: () => now,
    sleep: (ms: number) => {
      now += ms; // time passes exactly as asked
      return Promise.resolve();
    },
  };
  const gate = createSendGate(5, clock);
  const passedAt: number[] = [];
  await Promise.all(
    Array.from({ length: 12 }, (_, i) => gate.pass().then(() => passedAt[i] = now)),
  );
  assert.deepEqual(passedAt, [0, 0, 0, 0, 0, 1000, 1000, 1000, 1000, 1000, 2000, 2000]);
  for (let i = 5; i < passedAt.length; i++) {
    assert.ok(passedAt[i] - passedAt[i - 5] >= 1000, `send ${i} within a second of ${i - 5}`);
  }
});
