/** KV writes and reads that wait out a database locked by another writer (SQLite). */
import { isTransientStorageError } from "../bridge/errors.ts";

const STORAGE_RETRY_DELAYS_MS = [20, 50, 100, 200, 400];

/** Runs a KV operation, retrying it while the database is locked by another writer. */
export async function withStorageRetries<T>(operation: () => Promise<T>): Promise<T> {
  for (let i = 0;; i++) {
    try {
      return await operation();
    } catch (error) {
      if (!isTransientStorageError(error) || i >= STORAGE_RETRY_DELAYS_MS.length) throw error;
      await new Promise((r) => setTimeout(r, STORAGE_RETRY_DELAYS_MS[i]));
    }
  }
}
