/** A KV whose atomic commits go through `onCommit` (to fail, hold or count them); all else as is. */
export function interceptCommits(
  kv: Deno.Kv,
  onCommit: (commit: () => Promise<Deno.KvCommitResult | Deno.KvCommitError>) => Promise<
    Deno.KvCommitResult | Deno.KvCommitError
  >,
): Deno.Kv {
  const wrap = (op: Deno.AtomicOperation): Deno.AtomicOperation => {
    const proxy: Deno.AtomicOperation = new Proxy(op, {
      get(target, prop) {
        if (prop === "commit") return () => onCommit(() => target.commit());
        const value = Reflect.get(target, prop, target);
        if (typeof value !== "function") return value;
        // Builder methods return the operation itself: keep returning the proxy.
        return (...args: unknown[]) => {
          const result = value.apply(target, args);
          return result === target ? proxy : result;
        };
      },
    });
    return proxy;
  };
  return new Proxy(kv, {
    get(target, prop) {
      if (prop === "atomic") return () => wrap(target.atomic());
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}
