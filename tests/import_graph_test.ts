/**
 * The layout's rules, checked on the real module graph (`deno info --json`):
 * the binary holds no test code, no module imports itself round a cycle, the
 * core imports no adapter, npm package or Deno API, and adapters do not
 * import each other.
 */
import assert from "node:assert/strict";

const REPO = new URL("../", import.meta.url);
const ROOT = REPO.href;

interface InfoModule {
  specifier: string;
  dependencies?: { code?: { specifier: string }; type?: { specifier: string } }[];
}

/** Module (repo-relative path, or npm:/jsr:/node: specifier) → what it imports, types included. */
async function importGraph(entry: string): Promise<Map<string, Set<string>>> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "--config", new URL("deno.json", REPO).pathname, entry],
    cwd: REPO.pathname,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  const info = JSON.parse(new TextDecoder().decode(stdout)) as { modules: InfoModule[] };
  const name = (s: string) => s.startsWith(ROOT) ? s.slice(ROOT.length) : s;
  const graph = new Map<string, Set<string>>();
  for (const m of info.modules) {
    if (!m.specifier.startsWith(ROOT)) continue;
    const deps = new Set<string>();
    for (const d of m.dependencies ?? []) {
      for (const target of [d.code?.specifier, d.type?.specifier]) {
        if (target) deps.add(name(target));
      }
    }
    graph.set(name(m.specifier), deps);
  }
  return graph;
}

/** The graph of main.ts and every module under src/ (some are reached only by tests). */
async function productGraph(): Promise<Map<string, Set<string>>> {
  const files: string[] = [];
  const walk = (dir: URL) => {
    for (const e of Deno.readDirSync(dir)) {
      if (e.isDirectory) walk(new URL(`${e.name}/`, dir));
      else if (e.name.endsWith(".ts")) files.push(new URL(e.name, dir).href);
    }
  };
  walk(new URL("src/", REPO));
  const entry = `${Deno.makeTempDirSync()}/all.ts`;
  Deno.writeTextFileSync(
    entry,
    [new URL("main.ts", REPO).href, ...files].map((f) => `import "${f}";\n`).join(""),
  );
  try {
    return await importGraph(entry);
  } finally {
    Deno.removeSync(entry);
  }
}

/** Every cycle, as `a → b → … → a`, found by depth-first search. */
function cycles(graph: Map<string, Set<string>>): string[] {
  const found: string[] = [];
  const state = new Map<string, "open" | "done">();
  const path: string[] = [];
  const visit = (node: string) => {
    state.set(node, "open");
    path.push(node);
    for (const next of graph.get(node) ?? []) {
      if (!graph.has(next)) continue;
      if (state.get(next) === "open") {
        found.push([...path.slice(path.indexOf(next)), next].join(" → "));
      } else if (!state.has(next)) visit(next);
    }
    path.pop();
    state.set(node, "done");
  };
  for (const node of [...graph.keys()].sort()) if (!state.has(node)) visit(node);
  return found;
}

/** `src/<folder>` for modules in a folder of src/, `src` for its top-level files. */
function area(module: string): string {
  const parts = module.split("/");
  if (parts[0] !== "src") return parts[0];
  return parts.length > 2 ? `src/${parts[1]}` : "src";
}

const ADAPTERS = ["src/discord", "src/chatwoot", "src/store", "src/http", "src/net"];

/**
 * What an adapter may import besides its own folder: the core, the
 * configuration, the top-level helpers (hex, log, signature_check, …), and
 * src/net, the bounded download both the Discord and the Chatwoot adapter use
 * (a library beneath the adapters, importing only the core).
 */
function adapterMayImport(target: string): boolean {
  const a = area(target);
  return a === "src/bridge" || a === "src" || a === "src/net" || /^(npm|jsr|node):/.test(target);
}

/** Adapter imports not yet removed, each with the reason it is still there. */
const KNOWN_ADAPTER_IMPORTS: Record<string, string> = {};

Deno.test("the binary's module graph holds no test code and no cycle", async () => {
  const main = await importGraph(new URL("main.ts", REPO).pathname);
  const fromTests = [...main.keys()].filter((m) => m.startsWith("tests/"));
  assert.deepEqual(fromTests, [], "main.ts reaches modules under tests/");
  assert.ok(main.has("src/fakes/fake_chatwoot.ts"), "the demo's fakes ship in the product");
  const product = await productGraph();
  assert.deepEqual(cycles(product), []);
});

Deno.test("the core imports only the core, and adapters import no other adapter", async () => {
  const graph = await productGraph();
  const problems: string[] = [];
  for (const [module, deps] of graph) {
    const from = area(module);
    if (from === "tests") continue;
    for (const target of deps) {
      if (target.startsWith("tests/")) problems.push(`${module} → ${target}`);
      if (from === "src/bridge" && area(target) !== "src/bridge") {
        problems.push(`${module} → ${target}`);
      }
      if (
        ADAPTERS.includes(from) && area(target) !== from && !adapterMayImport(target) &&
        !KNOWN_ADAPTER_IMPORTS[`${module} → ${target}`]
      ) problems.push(`${module} → ${target}`);
    }
    const code = Deno.readTextFileSync(new URL(module, REPO))
      .replace(/\/\*[\s\S]*?\*\//g, "")
      .replace(/\/\/.*$/gm, "");
    if (from === "src/bridge" && /\bDeno\.\w+/.test(code)) problems.push(`${module} uses Deno.*`);
    // The environment is read by the command line; KV Connect reads its token from it.
    if (
      /\bDeno\.env\b/.test(code) && from !== "src/cli" && module !== "main.ts" &&
      module !== "src/store/open_kv.ts"
    ) problems.push(`${module} reads Deno.env`);
  }
  assert.deepEqual(problems, []);
  const gone = Object.keys(KNOWN_ADAPTER_IMPORTS).filter((edge) => {
    const [from, to] = edge.split(" → ");
    return !graph.get(from)?.has(to);
  });
  assert.deepEqual(gone, [], "fixed: remove from KNOWN_ADAPTER_IMPORTS");
});
