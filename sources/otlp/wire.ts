/**
 * The OTLP wire formats, from the OpenTelemetry project's own protobuf definitions as compiled by
 * protobufjs (`@opentelemetry/otlp-transformer`'s generated `root.js`), loaded on first use:
 * request decoding (protobuf, or JSON parsed for `convert.ts`) and the answers
 * (`Export*ServiceResponse` with `partialSuccess`, `google.rpc.Status` for errors) in the
 * request's encoding.
 *
 * `google.rpc.Status` is not in the OTLP definitions; it is declared here with protobufjs's
 * reflection API from its published definition (`code` = 1 int32, `message` = 2 string;
 * `details`, never sent, is left out) and encoded by protobufjs.
 */
import { BadRequest, type Encoding, type Signal } from './convert.js';

interface PbType {
  decode(buf: Uint8Array): unknown;
  encode(msg: unknown): { finish(): Uint8Array };
  fromObject(o: unknown): unknown;
}

export interface Wire {
  /** Decodes a request body; throws {@link BadRequest} with the reason. */
  decode(signal: Signal, enc: Encoding, body: Buffer): unknown;
  /** The 200 answer: empty, or with `partialSuccess`. */
  success(signal: Signal, enc: Encoding, rejected: number, message?: string): Buffer;
  /** A `google.rpc.Status` body. */
  status(enc: Encoding, code: number, message: string): Buffer;
}

const NAMES = {
  logs: { pkg: 'logs', req: 'ExportLogsServiceRequest', res: 'ExportLogsServiceResponse', rejected: 'rejectedLogRecords' },
  metrics: { pkg: 'metrics', req: 'ExportMetricsServiceRequest', res: 'ExportMetricsServiceResponse', rejected: 'rejectedDataPoints' },
  traces: { pkg: 'trace', req: 'ExportTraceServiceRequest', res: 'ExportTraceServiceResponse', rejected: 'rejectedSpans' },
} as const;

/** The `partialSuccess` field that counts rejected items, per signal (its JSON name). */
export const REJECTED_FIELD: Record<Signal, string> = { logs: NAMES.logs.rejected, metrics: NAMES.metrics.rejected, traces: NAMES.traces.rejected };

let loading: Promise<Wire> | undefined;

/** Loads the definitions once. */
export function loadWire(): Promise<Wire> {
  return (loading ??= build());
}

async function build(): Promise<Wire> {
  const rootMod = await import('@opentelemetry/otlp-transformer/build/src/generated/root.js');
  const root = ((rootMod as { default?: unknown }).default ?? rootMod) as { opentelemetry: { proto: { collector: Record<string, { v1: Record<string, PbType> }> } } };
  const collector = root.opentelemetry.proto.collector;
  const pbMod = await import('protobufjs/light.js');
  const pb = ((pbMod as { default?: unknown }).default ?? pbMod) as typeof import('protobufjs/light.js');
  const Status = new pb.Type('Status').add(new pb.Field('code', 1, 'int32')).add(new pb.Field('message', 2, 'string'));
  new pb.Root().define('google.rpc').add(Status);

  const req = (s: Signal) => collector[NAMES[s].pkg]!.v1[NAMES[s].req]!;
  const res = (s: Signal) => collector[NAMES[s].pkg]!.v1[NAMES[s].res]!;

  return {
    decode(signal, enc, body) {
      if (enc === 'json') {
        let text: string;
        try {
          text = new TextDecoder('utf-8', { fatal: true }).decode(body);
        } catch {
          throw new BadRequest('body: not valid UTF-8 JSON');
        }
        try {
          return JSON.parse(text);
        } catch (err) {
          throw new BadRequest(`body: invalid JSON (${(err as Error).message})`);
        }
      }
      try {
        return req(signal).decode(body);
      } catch (err) {
        if (err instanceof RangeError && /call stack/i.test(err.message)) throw new BadRequest(`body: nesting too deep to decode`);
        throw new BadRequest(`body: invalid protobuf ${NAMES[signal].req} (${(err as Error).message})`);
      }
    },
    success(signal, enc, rejected, message) {
      const o = rejected > 0 || message ? { partialSuccess: { [NAMES[signal].rejected]: String(rejected), errorMessage: message ?? '' } } : {};
      if (enc === 'json') return Buffer.from(JSON.stringify(o));
      const t = res(signal);
      return Buffer.from(t.encode(t.fromObject(o)).finish());
    },
    status(enc, code, message) {
      if (enc === 'json') return Buffer.from(JSON.stringify({ code, message }));
      return Buffer.from(Status.encode(Status.fromObject({ code, message })).finish());
    },
  };
}
