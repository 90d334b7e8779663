import assert from "node:assert/strict";
import { splitMessage } from "../src/bridge/split_message.ts";

const cases: { name: string; text: string; limit: number; parts: string[] }[] = [
  { name: "short text is one part", text: "hello", limit: 10, parts: ["hello"] },
  { name: "exactly the limit is one part", text: "abcdefghij", limit: 10, parts: ["abcdefghij"] },
  {
    name: "paragraph break preferred over line and word breaks",
    text: "aaaa bbbb\n\ncc dd\nee",
    limit: 12,
    parts: ["aaaa bbbb", "cc dd\nee"],
  },
  {
    name: "line break when no paragraph fits",
    text: "aaaa\nbbbb cc",
    limit: 8,
    parts: ["aaaa", "bbbb cc"],
  },
  {
    name: "word break when no line fits",
    text: "aaa bbb ccc",
    limit: 7,
    parts: ["aaa bbb", "ccc"],
  },
  {
    name: "a word longer than the limit is cut",
    text: "abcdefghijkl",
    limit: 5,
    parts: ["abcde", "fghij", "kl"],
  },
  { name: "an emoji is never cut in half", text: "abcd😀ef", limit: 5, parts: ["abcd", "😀ef"] },
];

for (const c of cases) {
  Deno.test(`splitMessage: ${c.name}`, () => {
    const parts = splitMessage(c.text, c.limit);
    assert.deepEqual(parts, c.parts);
    for (const p of parts) assert.ok(p.length <= c.limit);
  });
}

Deno.test("splitMessage loses no character of a long mixed text", () => {
  const words = Array.from(
    { length: 3000 },
    (_, i) => (i % 37 === 0 ? "\n\n" : i % 11 === 0 ? "\n" : " ") + `w${i}`,
  );
  const text = words.join("").trim();
  const parts = splitMessage(text, 2000);
  assert.ok(parts.length > 1);
  for (const p of parts) assert.ok(p.length <= 2000 && p.length > 0);
  // Every separator dropped at a cut is whitespace, so only whitespace may differ.
  assert.equal(parts.join("").replace(/\s/g, ""), text.replace(/\s/g, ""));
});
