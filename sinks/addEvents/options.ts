/**
 * The options the addEvents sink reads: all top-level options of agent.json (Scalyr's upload
 * options, sluice's `upload` tuning). Scalyr's request pacing options are accepted with
 * `noEffect`: sluice paces by answers and back-pressure instead (see each description).
 */
import type { OptionDecl } from '../../lib/component.js';
import { scalyrOption as s, sluiceOption as own } from '../../lib/config/schema.js';
import { SERVER_ATTRIBUTES } from '../../lib/config/sharedOptions.js';

/** The proxies (the check-in sink of the APM part reads them too). */
export const HTTPS_PROXY: OptionDecl = s({ name: 'https_proxy', type: 'string', scope: 'global', description: 'Proxy URL for HTTPS uploads. sluice uses it directly (Scalyr needed `use_requests_lib`).' });
export const HTTP_PROXY: OptionDecl = s({ name: 'http_proxy', type: 'string', scope: 'global', description: 'Proxy URL for plain HTTP requests.' });

/** Fields of `upload` (sluice's tuning of the addEvents upload). */
export const UPLOAD_FIELDS: OptionDecl[] = [
  own({ name: 'max_in_flight', type: 'int', default: 1, min: 1, max: 8, description: 'Requests in flight at once (acks stay in file order either way).' }),
  own({ name: 'linger_ms', type: 'int', default: 500, min: 0, description: 'How long a request that is not full waits for more events before it is sent.' }),
  own({ name: 'retry_base_ms', type: 'int', default: 1000, min: 1, description: 'First retry delay after a failed request; doubles per failure, with jitter.' }),
  own({ name: 'retry_max_ms', type: 'int', default: 30000, min: 1, description: 'Longest retry delay.' }),
  own({ name: 'max_response_bytes', type: 'int', default: 1048576, min: 1024, description: 'Longest server answer read; a longer one is cut off and treated as unparsable.' }),
];

/** Why Scalyr's pacing options do nothing here. */
const PACED_BY_ANSWERS =
  'sluice sends the next request as soon as the previous answer arrives (or `upload.linger_ms` after its first event when it is not full) and backs off exponentially on errors (`upload.retry_base_ms`, `upload.retry_max_ms`), so this pacing option of Scalyr has no effect.';

export const ADD_EVENTS_OPTIONS: OptionDecl[] = [
  // --- where to send
  s({ name: 'api_key', type: 'string', default: '', scope: 'global', description: 'Scalyr "Write Logs" API key. With no `api_key` at all (not in a file, no `SCALYR_API_KEY`) sluice does not fail: events go to the embedded default sink (`embedded_output`) and `embedded_default` is true. An `api_key` that is present but empty (for example `"$SCALYR_API_KEY"` with the variable unset) or still holds an unsubstituted `$NAME` is an error naming the variable.' }),
  s({ name: 'scalyr_server', type: 'string', default: 'https://agent.scalyr.com', scope: 'global', description: 'Base URL of the Scalyr server (`scheme://host[:port]`). Unless `allow_http` is true, `http://` is rewritten to `https://` (as Scalyr does; with a warning, since a plain-HTTP server then fails every upload) and a bare host gets `https://`.' }),
  s({ name: 'allow_http', type: 'bool', default: false, scope: 'global', description: 'Allow a plain `http://` `scalyr_server` (and skip its URL checks).' }),
  SERVER_ATTRIBUTES,
  // --- how to send
  s({ name: 'compression_type', type: 'string', default: 'deflate', enum: ['deflate', 'none', 'bz2', 'lz4', 'zstandard'], scope: 'global', description: 'Request body compression. sluice sends `deflate` or `none`; `bz2`, `lz4` and `zstandard` are accepted with a warning and sent as `deflate`.' }),
  s({ name: 'compression_level', type: 'int', scope: 'global', defaultText: '6 for deflate, 0 for none', description: 'Compression level; out of range for the type (deflate 1–9) it is replaced by the type\'s default with a warning.' }),
  HTTPS_PROXY,
  HTTP_PROXY,
  s({ name: 'use_requests_lib', type: 'bool', default: false, noEffect: true, scope: 'global', description: 'Scalyr\'s switch for its proxy-capable HTTP client. sluice always honours the proxy options.' }),
  s({ name: 'verify_server_certificate', type: 'bool', default: true, scope: 'global', description: 'Verify the server\'s TLS certificate.' }),
  s({ name: 'ca_cert_path', type: 'string', scope: 'global', defaultText: 'the system CA store', description: 'PEM file of CA certificates to trust instead of the system store.' }),
  s({ name: 'request_deadline', type: 'float', default: 60, min: 0, scope: 'global', description: 'Seconds before an upload request times out.' }),
  s({ name: 'max_allowed_request_size', type: 'int', default: 1048576, min: 1024, scope: 'global', defaultText: '5900000 (1048576 with `legacy`)', description: 'Largest upload request body, in bytes.' }),
  s({ name: 'min_allowed_request_size', type: 'int', default: 102400, min: 0, scope: 'global', description: 'Smallest size, in bytes, a request is shrunk to after a `requestTooLarge` answer (see `request_too_large_adjustment`).' }),
  s({ name: 'request_too_large_adjustment', type: 'float', default: 0.5, min: 0, scope: 'global', description: 'Request size factor after a `requestTooLarge` answer: the request is rebuilt with at most this fraction of its size (not below `min_allowed_request_size`). A value outside 0–1 (exclusive) uses 0.5.' }),
  own({ name: 'max_no_success_secs', type: 'float', default: 0, min: 0, scope: 'global', description: 'When > 0, pending data is dropped (counted) after this many seconds without a successful upload, as Scalyr does after 15 minutes. Default 0: never drop; back-pressure holds reading instead.' }),
  own({ name: 'upload', type: 'object', default: {}, fields: UPLOAD_FIELDS, scope: 'global', description: 'Tuning of the addEvents upload (see "upload" below).' }),
  // --- Scalyr's request pacing: accepted, no effect
  s({ name: 'pipeline_threshold', type: 'float', default: 1.1, min: 0, noEffect: true, scope: 'global', defaultText: '0 (1.1 with `legacy`)', description: `Scalyr: send the next request before the previous answer when the last one was at least this fraction full. sluice builds and compresses the next requests while one is in flight and sends each as soon as the answer before it arrives (\`upload.max_in_flight\` allows more at once), so this option has no effect.` }),
  s({ name: 'min_request_spacing_interval', type: 'float', default: 1.0, min: 0, noEffect: true, scope: 'global', defaultText: '0 (1.0 with `legacy`)', description: `Scalyr: minimum seconds between requests. ${PACED_BY_ANSWERS}` }),
  s({ name: 'max_request_spacing_interval', type: 'float', default: 5.0, min: 0, noEffect: true, scope: 'global', description: `Scalyr: maximum seconds between requests. ${PACED_BY_ANSWERS}` }),
  s({ name: 'max_error_request_spacing_interval', type: 'float', default: 30.0, min: 0, noEffect: true, scope: 'global', description: `Scalyr: maximum seconds between requests while the server answers with errors. sluice's longest retry delay is \`upload.retry_max_ms\`, so this option has no effect.` }),
  s({ name: 'low_water_bytes_sent', type: 'int', default: 20480, min: 0, noEffect: true, scope: 'global', description: `Scalyr request pacing: below this many bytes per request, spacing grows. ${PACED_BY_ANSWERS}` }),
  s({ name: 'low_water_request_spacing_adjustment', type: 'float', default: 1.5, min: 0, noEffect: true, scope: 'global', description: `Scalyr request pacing: spacing factor below the low-water mark. ${PACED_BY_ANSWERS}` }),
  s({ name: 'high_water_bytes_sent', type: 'int', default: 102400, min: 0, noEffect: true, scope: 'global', description: `Scalyr request pacing: above this many bytes per request, spacing shrinks. ${PACED_BY_ANSWERS}` }),
  s({ name: 'high_water_request_spacing_adjustment', type: 'float', default: 0.6, min: 0, noEffect: true, scope: 'global', description: `Scalyr request pacing: spacing factor above the high-water mark. ${PACED_BY_ANSWERS}` }),
  s({ name: 'failure_request_spacing_adjustment', type: 'float', default: 1.5, min: 0, noEffect: true, scope: 'global', description: `Scalyr request pacing: spacing factor after a failed request. sluice's retry delay doubles per failure (\`upload.retry_base_ms\` up to \`upload.retry_max_ms\`, with jitter), so this option has no effect.` }),
  s({ name: 'max_sequence_number', type: 'int', default: 1024 ** 4, min: 1, noEffect: true, scope: 'global', description: 'Scalyr: sequence numbers (byte offsets) wrap to a new sequence id after this value. sluice\'s sequence numbers are the byte offsets of the file, and each file followed (a new one after rotation or truncation) gets its own sequence id, so this option has no effect.' }),
];
