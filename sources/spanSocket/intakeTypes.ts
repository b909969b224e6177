/** The APM intake source's types (shared by `./component.ts` and its implementation `./intakeSource.ts`). */
import type { SourceInstance } from '../../lib/component.js';
import type { ApmMinute } from '../../lib/apm/types.js';
import type { ScoutKeyring } from '../../sinks/checkin/keyring.js';
import type { SpanIntake } from './index.js';

export interface ApmIntakeServices {
  keyring?: ScoutKeyring;
  onMinute?: (m: ApmMinute) => void;
  onShutdown?: () => void;
  holdShutdownClients?: boolean;
  minuteMs?: number;
  graceMs?: number;
}

export interface ApmIntakeSource extends SourceInstance {
  /** The span intake; there once `ready()` resolved. */
  intake: SpanIntake;
  /** Loads the implementation and binds the socket(s); once (later calls return the same promise). */
  ready(): Promise<void>;
  status(): Record<string, unknown>;
}
