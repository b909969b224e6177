/**
 * "One error per state change" for monitors that poll several peers (redis hosts, SNMP targets):
 * each peer keeps its current fault; a failure is logged when the fault changes, when the same
 * fault outlasts the repeat interval (Scalyr's `*_error_repeat_interval`), or when a new fault
 * starts while a failure burst is going on (the monitor source logs a burst's first failure).
 */
export interface FaultState {
  /** The kind of the current fault (undefined: the last sample worked). */
  fault?: string;
  /** When it was last logged (ms; 0: never). */
  faultLoggedAt: number;
}

/** Records a failure of `kind` on `peer` at `now`; true when it should be logged. */
export function noteFault(peer: FaultState, kind: string, now: number, repeatMs: number, burst: boolean): boolean {
  const changed = peer.fault !== undefined && peer.fault !== kind;
  const repeated = peer.fault !== undefined && peer.fault === kind && now - peer.faultLoggedAt >= repeatMs;
  const newInBurst = peer.fault === undefined && burst;
  if (peer.fault !== kind || repeated || peer.faultLoggedAt === 0) peer.faultLoggedAt = now;
  peer.fault = kind;
  return changed || repeated || newInBurst;
}
