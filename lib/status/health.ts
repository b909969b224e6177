/**
 * The health verdict shared by `sluice status -H`, the text status and `/health`.
 *
 * Healthy only if: the configuration is good (not "using last good"), the sink had a recent
 * success or has nothing to send, and no part failed to start. The reason is always given.
 */
import type { AgentStatus } from './types.js';

export interface HealthVerdict {
  healthy: boolean;
  /** `Good`, or the reasons joined with `, ` (Scalyr's `Health check:` line). */
  reason: string;
}

/** Seconds without a successful upload, while data waits, after which the sink is unhealthy. */
export const DEFAULT_MAX_SECS_SINCE_SUCCESS = 60;

export function healthOf(status: AgentStatus, maxSecs = status.healthMaxSecs ?? DEFAULT_MAX_SECS_SINCE_SUCCESS): HealthVerdict {
  const problems: string[] = [];
  if (status.config.status === 'bad') problems.push('Bad config, using last good configuration');
  const sink = status.sink as Record<string, unknown>;
  const pending = Math.max(Number(sink.bytesPending ?? sink.pendingBytes ?? 0), Number(status.pendingBytes ?? 0));
  const lastSuccess = Number(sink.lastSuccessTime ?? sink.lastWriteTime ?? 0) || 0;
  const since = lastSuccess ? (status.now - lastSuccess) / 1000 : (status.now - status.startedAt) / 1000;
  // Failing = the last attempt did not succeed (a quiet sink that simply has not sent yet is fine).
  const failing = Number(sink.consecutiveFailures ?? 0) > 0 || sink.healthy === false || (sink.health !== undefined && sink.health !== 'good');
  if (pending > 0 && failing && since > maxSecs) {
    const last = sink.lastResponseStatus ? ` (last response: ${String(sink.lastResponseStatus)})` : '';
    problems.push(`Upload failing: no success for ${Math.round(since)} seconds with ${pending} bytes pending${last}`);
  }
  for (const l of status.logs) if (l.error) problems.push(`${l.path} failed: ${l.error}`);
  for (const m of status.monitors) if (m.error) problems.push(`monitor ${m.key} failed: ${m.error}`);
  return problems.length === 0 ? { healthy: true, reason: 'Good' } : { healthy: false, reason: problems.join(', ') };
}
