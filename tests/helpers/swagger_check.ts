/**
 * Checks a request body the bridge sent to the fake Chatwoot against the
 * request schema in Chatwoot's swagger.json (beside the repository, in
 * `../shared/chatwoot/`). Where the spec is known to be wrong (fields the
 * code accepts but the spec omits, see reference/chatwoot.md), those fields
 * are allowed too. When the spec file is not there, nothing is checked.
 *
 * Test-only (it reads a file outside the repository): the test helpers hand it
 * to the fake Chatwoot as `checkRequest`, so the demo's graph never holds it.
 */

type Schema = {
  $ref?: string;
  type?: string | string[];
  enum?: unknown[];
  properties?: Record<string, Schema>;
};

/** Fields Chatwoot's code accepts that its swagger does not list. */
const SPEC_GAPS: Record<string, string[]> = {
  "POST /api/v1/accounts/{account_id}/contacts": ["source_id"],
  "POST /api/v1/accounts/{account_id}/conversations/{conversation_id}/messages": [
    "source_id",
    "echo_id",
  ],
};

let spec: { paths: Record<string, Record<string, unknown>> } | null | undefined;

function loadSpec() {
  if (spec !== undefined) return spec;
  try {
    const url = new URL("../../../shared/chatwoot/swagger.json", import.meta.url);
    spec = JSON.parse(Deno.readTextFileSync(url));
  } catch {
    spec = null;
  }
  return spec;
}

function resolve(schema: Schema | undefined): Schema | undefined {
  let s = schema;
  const root = loadSpec() as unknown as Record<string, unknown>;
  while (s?.$ref) {
    let node: unknown = root;
    for (const part of s.$ref.replace(/^#\//, "").split("/")) {
      node = (node as Record<string, unknown>)[part];
    }
    s = node as Schema;
  }
  return s;
}

function typeMatches(value: unknown, type: string | string[] | undefined): boolean {
  if (!type) return true;
  const types = Array.isArray(type) ? type : [type];
  return types.some((t) => {
    switch (t) {
      case "string":
        return typeof value === "string";
      case "integer":
        return Number.isInteger(value);
      case "number":
        return typeof value === "number";
      case "boolean":
        return typeof value === "boolean";
      case "object":
        return typeof value === "object" && value !== null && !Array.isArray(value);
      case "array":
        return Array.isArray(value);
      case "null":
        return value === null;
      default:
        return true;
    }
  });
}

/** Problems with a JSON body for `METHOD /spec/path/{param}`; empty when it conforms. */
export function checkRequestBody(method: string, specPath: string, body: unknown): string[] {
  const doc = loadSpec();
  if (!doc) return [];
  const operation = doc.paths[specPath]?.[method.toLowerCase()] as
    | { requestBody?: Schema & { content?: Record<string, { schema: Schema }> } }
    | undefined;
  if (!operation) return [`${method} ${specPath} is not in the spec`];
  const requestBody = resolve(operation.requestBody) as
    | { content?: Record<string, { schema: Schema }> }
    | undefined;
  const schema = resolve(requestBody?.content?.["application/json"]?.schema);
  if (!schema?.properties) return [];
  if (typeof body !== "object" || body === null) return ["body is not a JSON object"];
  const problems: string[] = [];
  const gaps = SPEC_GAPS[`${method} ${specPath}`] ?? [];
  for (const [key, value] of Object.entries(body)) {
    if (value === undefined) continue;
    const property = resolve(schema.properties[key]);
    if (!property) {
      if (!gaps.includes(key)) problems.push(`unknown field "${key}"`);
      continue;
    }
    if (!typeMatches(value, property.type)) {
      problems.push(`field "${key}" should be ${JSON.stringify(property.type)}`);
    }
    if (property.enum && !property.enum.includes(value)) {
      problems.push(`field "${key}" must be one of ${JSON.stringify(property.enum)}`);
    }
  }
  return problems;
}
