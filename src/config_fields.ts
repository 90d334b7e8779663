/**
 * The zod building blocks the configuration schema (config.ts) is made of:
 * one per kind of environment value (flag, URL, number, text, colour).
 *
 * Contract: each parses the raw string (or undefined) of one variable into
 * its typed value; a problem message says what is expected, and `what`
 * (where given) tells the operator where to find a right value.
 */
import { z } from "zod";

/**
 * Blank values count as unset, as in the seed's `.env.example`. The schema
 * passed in decides what unset means (`.optional()` or `.default(…)`).
 */
export const blankAsUnset = <T extends z.ZodType>(schema: T) =>
  z.preprocess((v) => (typeof v === "string" && v.trim() === "" ? undefined : v), schema);

export const required = (what: string) =>
  z.string({ error: `is required: ${what}` }).trim().min(1, `is required: ${what}`);

export const booleanFlag = (fallback: boolean) =>
  blankAsUnset(
    z.string().trim().toLowerCase().pipe(
      z.enum(["true", "false", "1", "0", "yes", "no", "on", "off"], {
        error: "expected true or false",
      }),
    ).transform((v) => ["true", "1", "yes", "on"].includes(v)).optional(),
  ).transform((v) => v ?? fallback);

export const httpUrl = (what: string) =>
  z.string().trim().refine((v) => {
    try {
      const u = new URL(v);
      return u.protocol === "http:" || u.protocol === "https:";
    } catch {
      return false;
    }
  }, `expected an http(s) URL (${what})`).transform((v) => v.replace(/\/+$/, ""));

export const positiveInt = (what: string) =>
  z.string().trim().regex(/^\d+$/, `expected a positive whole number (${what})`)
    .transform(Number).refine((n) => n > 0, `expected a positive whole number (${what})`);

/** A text with a default; set but blank means "off" for notices. */
export const text = (fallback: string) => z.string().optional().transform((v) => v ?? fallback);

export const nonBlankText = (fallback: string, max?: number) =>
  blankAsUnset(
    (max ? z.string().trim().max(max, `must be at most ${max} characters`) : z.string().trim())
      .optional(),
  ).transform((v) => v ?? fallback);

export const color = (fallback: number) =>
  blankAsUnset(
    z.string().trim().regex(/^#?[0-9a-fA-F]{6}$/, "expected a hex colour like 7BB8F5 (no #)")
      .transform((v) => parseInt(v.replace("#", ""), 16)).optional(),
  ).transform((v) => v ?? fallback);
