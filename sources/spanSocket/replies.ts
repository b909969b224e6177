/**
 * Replies of the Scout core agent, pre-encoded (length prefix + JSON in one Buffer, one write).
 * Shapes are those real language agents accept (behaviour notes §1.3, the Node capture):
 * `{"<Command>":{"result":"Success"}}`, `{"Register":{"id":null,"result":"Success"}}`,
 * `{"CoreAgentVersion":{"version":"x.y.z","result":"Success"}}`, `{"Failure":{"message":"…"}}`.
 */
import { encodeFrame } from './framing.js';

export { DEFAULT_CORE_AGENT_VERSION } from './options.js';

const cache = new Map<string, Buffer>();

export function successReply(command: string): Buffer {
  let b = cache.get(command);
  if (!b) {
    b = encodeFrame(
      command === 'Register' ? '{"Register":{"id":null,"result":"Success"}}' : JSON.stringify({ [command]: { result: 'Success' } }),
    );
    if (cache.size < 64) cache.set(command, b);
  }
  return b;
}

export function versionReply(version: string): Buffer {
  return encodeFrame(JSON.stringify({ CoreAgentVersion: { version, result: 'Success' } }));
}

export function failureReply(message: string): Buffer {
  return encodeFrame(JSON.stringify({ Failure: { message } }));
}
