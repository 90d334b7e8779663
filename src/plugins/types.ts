/**
 * Contact enrichment plugins: each may add what another system knows about a
 * Discord user (email, name, custom attributes) to the Chatwoot contact the
 * bridge creates for them.
 */
export interface EnrichmentUser {
  id: string;
  username: string;
  displayName: string;
}

export interface Enrichment {
  email?: string;
  name?: string;
  customAttributes?: Record<string, string>;
}

export interface ContactPlugin {
  name: string;
  /** Undefined when the user is unknown to the plugin's system. Throwing is allowed. */
  enrichContact(user: EnrichmentUser, signal: AbortSignal): Promise<Enrichment | undefined>;
}
