import assert from "node:assert/strict";
import { createSignatureVerifier } from "../src/chatwoot/webhook.ts";

const vectorUrl = new URL(
  "../../shared/chatwoot/webhooks/_signed_delivery_example.json",
  import.meta.url,
);
let vector: { secret: string; headers: Record<string, string>; body: string } | undefined;
try {
  vector = JSON.parse(Deno.readTextFileSync(vectorUrl));
} catch { /* the shared test vector sits beside the repository in CI */ }

Deno.test({
  name: "Chatwoot's own signed delivery verifies, and any change to it does not",
  ignore: vector === undefined,
  fn: async () => {
    const v = vector!;
    const verify = await createSignatureVerifier(v.secret);
    const headers = {
      signature: v.headers["X-Chatwoot-Signature"],
      timestamp: v.headers["X-Chatwoot-Timestamp"],
    };
    const at = Number(headers.timestamp);
    assert.deepEqual(await verify(v.body, headers, at), { ok: true });
    assert.equal((await verify(v.body + " ", headers, at)).ok, false);
    assert.equal((await verify(v.body, headers, at + 301)).ok, false, "older than 5 minutes");
    assert.equal((await verify(v.body, headers, at - 301)).ok, false, "from the future");
    const wrongKey = await createSignatureVerifier(`${v.secret}x`);
    assert.equal((await wrongKey(v.body, headers, at)).ok, false);
  },
});

Deno.test("malformed signature headers are refused with a reason", async () => {
  const verify = await createSignatureVerifier("s3cret");
  const now = 1_800_000_000;
  assert.equal((await verify("{}", { signature: null, timestamp: null }, now)).ok, false);
  assert.equal(
    (await verify("{}", { signature: "sha256=zz", timestamp: String(now) }, now)).ok,
    false,
  );
  assert.equal(
    (await verify("{}", { signature: `sha256=${"a".repeat(64)}`, timestamp: "soon" }, now)).ok,
    false,
  );
});
