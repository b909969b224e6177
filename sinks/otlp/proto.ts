/**
 * The OpenTelemetry protobuf definitions (as compiled by protobufjs in
 * `@opentelemetry/otlp-transformer`), loaded on first use so agents without an OTLP sink never
 * pay for them, and the reading of an OTLP/HTTP answer (partial success, `google.rpc.Status`).
 */

/** A protobufjs generated message type (the part used here). */
export interface MessageType {
  encode(obj: unknown): { finish(): Uint8Array };
  decode(buf: Uint8Array): unknown;
  toObject(msg: unknown, opts?: Record<string, unknown>): Record<string, unknown>;
}

export type Signal = 'logs' | 'metrics' | 'traces';

export interface OtlpProto {
  request: Record<Signal, MessageType>;
  response: Record<Signal, MessageType>;
  /** `google.rpc.Status` (not part of the OTLP definitions: declared here with protobufjs's reflection API). */
  status?: MessageType;
}

let loading: Promise<OtlpProto> | undefined;

/** Loads the definitions once (a dynamic import). */
export function loadProto(): Promise<OtlpProto> {
  if (!loading) {
    loading = (async () => {
      const mod = (await import('@opentelemetry/otlp-transformer/build/src/generated/root.js')) as { default?: unknown };
      const root = (mod.default ?? mod) as { opentelemetry: { proto: Record<string, any> } };
      const c = root.opentelemetry.proto.collector;
      const out: OtlpProto = {
        request: { logs: c.logs.v1.ExportLogsServiceRequest, metrics: c.metrics.v1.ExportMetricsServiceRequest, traces: c.trace.v1.ExportTraceServiceRequest },
        response: { logs: c.logs.v1.ExportLogsServiceResponse, metrics: c.metrics.v1.ExportMetricsServiceResponse, traces: c.trace.v1.ExportTraceServiceResponse },
      };
      try {
        const pbm = (await import('protobufjs')) as { default?: any };
        const pb = pbm.default ?? pbm;
        const Status = new pb.Type('Status').add(new pb.Field('code', 1, 'int32')).add(new pb.Field('message', 2, 'string')).add(new pb.Field('details', 3, 'bytes', 'repeated'));
        const r = new pb.Root();
        r.define('google.rpc').add(Status);
        r.resolveAll();
        out.status = Status as MessageType;
      } catch {
        // Without protobufjs's full build, a binary error body is shown as a text excerpt.
      }
      return out;
    })();
    loading.catch(() => {
      loading = undefined;
    });
  }
  return loading;
}

const REJECTED_FIELD: Record<Signal, string> = { logs: 'rejectedLogRecords', metrics: 'rejectedDataPoints', traces: 'rejectedSpans' };

/** What a successful answer's `partialSuccess` says (0 rejected when there is none). */
export interface PartialSuccess {
  rejected: number;
  errorMessage?: string;
}

function isJson(contentType: string | undefined): boolean {
  return /\bjson\b/i.test(contentType ?? '');
}
function isProtobuf(contentType: string | undefined): boolean {
  return /protobuf/i.test(contentType ?? '');
}

/** Reads a 2xx answer. Throws when it cannot be read (the caller treats the request as delivered anyway). */
export function readPartialSuccess(proto: OtlpProto, signal: Signal, body: Buffer | undefined, contentType: string | undefined): PartialSuccess {
  if (!body || body.length === 0) return { rejected: 0 };
  let ps: Record<string, unknown> | undefined;
  if (isJson(contentType) || (!isProtobuf(contentType) && body[0] === 0x7b)) {
    const parsed = JSON.parse(body.toString('utf8')) as Record<string, unknown> | null;
    ps = (parsed?.partialSuccess ?? parsed?.partial_success) as Record<string, unknown> | undefined;
    if (ps && ps[REJECTED_FIELD[signal]] === undefined) {
      const snake = REJECTED_FIELD[signal].replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
      if (ps[snake] !== undefined) ps = { [REJECTED_FIELD[signal]]: ps[snake], errorMessage: ps.errorMessage ?? ps.error_message };
    }
  } else {
    const msg = proto.response[signal].decode(body);
    ps = proto.response[signal].toObject(msg, { longs: Number }).partialSuccess as Record<string, unknown> | undefined;
  }
  if (!ps) return { rejected: 0 };
  const n = Number(ps[REJECTED_FIELD[signal]] ?? 0);
  const errorMessage = typeof ps.errorMessage === 'string' && ps.errorMessage !== '' ? ps.errorMessage.slice(0, 500) : undefined;
  return { rejected: Number.isFinite(n) && n > 0 ? n : 0, errorMessage };
}

/** The server's message in an error answer: a `google.rpc.Status` (protobuf or JSON) when it is one, else a text excerpt. */
export function errorBodyMessage(proto: OtlpProto | undefined, body: Buffer | undefined, contentType: string | undefined): string | undefined {
  if (!body || body.length === 0) return undefined;
  const slice = body.subarray(0, 64 * 1024);
  if (isProtobuf(contentType) && proto?.status) {
    try {
      const st = proto.status.toObject(proto.status.decode(slice), { defaults: false });
      if (typeof st.message === 'string' && st.message !== '') return st.message.slice(0, 500);
    } catch {
      /* not a Status: the text excerpt below */
    }
  }
  if (isJson(contentType) || slice[0] === 0x7b) {
    try {
      const j = JSON.parse(slice.toString('utf8')) as Record<string, unknown>;
      const m = j?.message ?? (j?.error as Record<string, unknown> | undefined)?.message ?? j?.error;
      if (typeof m === 'string' && m !== '') return m.slice(0, 500);
    } catch {
      /* the text excerpt below */
    }
  }
  // eslint-disable-next-line no-control-regex
  const text = slice.subarray(0, 300).toString('utf8').replace(/[\u0000-\u001f\u007f-\u009f\ufffd]+/g, ' ').trim();
  return text === '' ? undefined : text.slice(0, 200);
}
