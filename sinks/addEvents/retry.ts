/**
 * What an `addEvents` answer means for the request's data (how long to wait before trying again
 * is the request lane's: sinks/requestLane.ts, sinks/backoff.ts).
 *
 * Promises:
 * - {@link mapResponseStatus} gives Scalyr's client-side status for an HTTP answer (§4.5): HTTP 429
 *   → `serverTooBusy` whatever the body; empty body → `emptyResponse`; unparsable → `parseResponseFailed`;
 *   no `status` key → `unknownError`; otherwise the body's `status` (the HTTP code is otherwise ignored).
 * - {@link classifyStatus} tells the sink what to do with the request's data; nothing but `success`
 *   and `discardBuffer` lets data go, so nothing is lost on errors.
 */

/** What the sink does with the request's events after an answer. */
export type Outcome =
  /** Delivered: ack. */
  | 'success'
  /** The server asked to drop the events: count them dropped and ack. */
  | 'discard'
  /** Too large: shrink the allowed size and rebuild the same events. */
  | 'tooLarge'
  /** Client-side error (bad key, bad param): loud, data kept, retried with the capped backoff. */
  | 'clientError'
  /** Anything else (server errors, 429, transport failures, unparsable answers): retry the same request. */
  | 'retry';

/** Scalyr's status string for an HTTP answer. */
export function mapResponseStatus(httpStatus: number, body: string): string {
  if (httpStatus === 429) return 'serverTooBusy';
  if (body.trim() === '') return 'emptyResponse';
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return 'parseResponseFailed';
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return 'parseResponseFailed';
  const status = (parsed as Record<string, unknown>).status;
  if (status === undefined) return 'unknownError';
  return String(status);
}

/** The body's `message` if it has one (for status and logs), shortened. */
export function responseMessage(body: string): string | undefined {
  try {
    const m = (JSON.parse(body) as Record<string, unknown>)?.message;
    return typeof m === 'string' ? m.slice(0, 500) : undefined;
  } catch {
    return undefined;
  }
}

/** The sink's action for a status string. */
export function classifyStatus(status: string): Outcome {
  if (status === 'success') return 'success';
  if (status.includes('discardBuffer')) return 'discard';
  if (status.includes('requestTooLarge')) return 'tooLarge';
  if (status.startsWith('error/client')) return 'clientError';
  return 'retry';
}
