/**
 * Chatwoot's Client API (`/public/api/v1/…`): the calls a contact's own
 * widget makes, authorised by the contact's source id in the inbox (no
 * token). The bridge uses them where the Account API would act as the token's
 * agent instead: the contact typing, the CSAT survey, answers to
 * interactive messages.
 */
import { z } from "zod";
import type { ChatwootPort } from "../bridge/ports.ts";
import type { ApiCall } from "./api_call.ts";

const anything = z.unknown();

export function createClientApi(
  call: ApiCall,
  baseUrl: string,
): Pick<ChatwootPort, "toggleContactTyping" | "submitCsat" | "submitInteractiveAnswer"> {
  return {
    async toggleContactTyping(inboxIdentifier, contactSourceId, conversationId, on) {
      await call(
        `show contact typing ${on ? "on" : "off"}`,
        "POST",
        `/public/api/v1/inboxes/${encodeURIComponent(inboxIdentifier)}/contacts/${
          encodeURIComponent(contactSourceId)
        }/conversations/${conversationId}/toggle_typing`,
        anything,
        { typing_status: on ? "on" : "off" },
        baseUrl,
      );
    },

    async submitInteractiveAnswer(where, values) {
      await call(
        "answer an interactive message",
        "PATCH",
        `/public/api/v1/inboxes/${encodeURIComponent(where.inboxIdentifier)}/contacts/${
          encodeURIComponent(where.contactSourceId)
        }/conversations/${where.conversationId}/messages/${where.messageId}`,
        anything,
        // An array, as the widget sends it (bots read its first entry), whatever the spec says.
        { submitted_values: values },
        baseUrl,
      );
    },

    async submitCsat(uuid, response) {
      await call(
        "submit CSAT rating",
        "PUT",
        `/public/api/v1/csat_survey/${encodeURIComponent(uuid)}`,
        anything,
        {
          message: {
            submitted_values: {
              csat_survey_response: {
                rating: response.rating,
                feedback_message: response.feedback,
              },
            },
          },
        },
        baseUrl,
      );
    },
  };
}
