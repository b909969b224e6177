/**
 * The options the OTLP sink reads: its own object in `sinks: { name: { type: "otlp", … } }`,
 * plus the global proxies and `server_attributes` (shared declarations, so the schema sees one
 * value for each).
 */
import type { OptionDecl } from '../../lib/component.js';
import { sluiceOption as own } from '../../lib/config/schema.js';
import { SERVER_ATTRIBUTES } from '../../lib/config/sharedOptions.js';
import { HTTP_PROXY, HTTPS_PROXY } from '../addEvents/options.js';

export const OTLP_OPTIONS: OptionDecl[] = [
  own({ name: 'endpoint', type: 'string', default: 'http://localhost:4318', description: 'Base URL of the OTLP/HTTP receiver (a Collector, a backend). As the OTLP exporter spec says for `OTEL_EXPORTER_OTLP_ENDPOINT`, `/v1/logs`, `/v1/metrics` and `/v1/traces` are appended to its path (`http://collector:4318` → `http://collector:4318/v1/logs`).' }),
  own({ name: 'logs_endpoint', type: 'string', defaultText: '`<endpoint>/v1/logs`', description: 'Full URL for logs, used as is (wins over `endpoint`).' }),
  own({ name: 'metrics_endpoint', type: 'string', defaultText: '`<endpoint>/v1/metrics`', description: 'Full URL for metrics, used as is (wins over `endpoint`).' }),
  own({ name: 'traces_endpoint', type: 'string', defaultText: '`<endpoint>/v1/traces`', description: 'Full URL for traces, used as is (wins over `endpoint`).' }),
  own({ name: 'protocol', type: 'string', default: 'http/protobuf', enum: ['http/protobuf', 'http/json'], description: 'Wire format: binary protobuf (`application/x-protobuf`) or the OTLP/JSON mapping (`application/json`).' }),
  own({ name: 'headers', type: 'stringMap', default: {}, env: false, description: 'HTTP headers sent with every request (an API key header, a tenant id). Their values never appear in logs, status or errors.' }),
  own({ name: 'compression', type: 'string', default: 'gzip', enum: ['gzip', 'none'], description: 'Request body compression (`Content-Encoding: gzip`).' }),
  own({ name: 'timeout', type: 'float', default: 10, min: 0.01, description: 'Seconds before a request times out (it is then retried).' }),
  own({ name: 'ca_cert_path', type: 'string', defaultText: 'the system CA store', description: 'PEM file of a CA to trust besides the system store (a private Collector).' }),
  own({ name: 'verify_server_certificate', type: 'bool', default: true, description: "Verify the server's TLS certificate." }),
  own({ name: 'proxy', type: 'string', defaultText: '`https_proxy` / `http_proxy`, then HTTPS_PROXY / HTTP_PROXY (NO_PROXY honoured)', description: 'An `http://` proxy used through CONNECT for every request of this sink.' }),
  HTTPS_PROXY,
  HTTP_PROXY,
  own({ name: 'resource_attributes', type: 'object', default: {}, env: false, description: 'Attributes added to every resource (`service.name`, `deployment.environment`…); a value may be a string, number, boolean, list or object.' }),
  own({ name: 'max_batch_events', type: 'int', default: 5000, min: 1, description: 'Most log records, data points or spans in one request.' }),
  own({ name: 'max_request_bytes', type: 'int', default: 4 * 1024 * 1024, min: 1024, description: 'Largest request body before compression, in bytes (estimated while filling; also kept to a third of the read budget).' }),
  own({ name: 'linger_ms', type: 'int', default: 500, min: 0, description: 'How long a request that is not full waits for more events before it is sent.' }),
  own({ name: 'retry_base_ms', type: 'int', default: 1000, min: 1, description: 'First retry delay after a failed request; doubles per failure, with jitter.' }),
  own({ name: 'retry_max_ms', type: 'int', default: 30000, min: 1, description: 'Longest retry delay (a server\'s `Retry-After` is honoured up to it).' }),
  own({ name: 'max_response_bytes', type: 'int', default: 65536, min: 1024, description: 'Longest server answer read; a longer one is cut off (and the attempt retried).' }),
  SERVER_ATTRIBUTES,
];
