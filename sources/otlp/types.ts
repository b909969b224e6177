/** The OTLP receiver source's type (shared by `./component.ts` and `./receiver.ts`). */
import type { SourceInstance } from '../../lib/component.js';

export interface OtlpReceiverSource extends SourceInstance {
  /** Loads the implementation and binds the listener; once (later calls return the same promise). Rejects with a clear error (`code` kept: `EADDRINUSE`…). */
  ready(): Promise<void>;
  /** The bound address once `ready()` resolved. */
  address(): { host: string; port: number } | undefined;
  status(): Record<string, unknown>;
}
