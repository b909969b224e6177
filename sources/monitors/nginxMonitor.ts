/**
 * `nginx_monitor` (Scalyr's `scalyr_agent.builtin_monitors.nginx_monitor`): fetches nginx's
 * `stub_status` page at `status_url` (from `source_address`) at each sample and records
 * `nginx.connections.active`, `nginx.connections.reading`, `nginx.connections.writing` and
 * `nginx.connections.waiting` (integers, no fields; the entry's `id` shows as `nginx_monitor(id)`).
 *
 * The page (`Active connections: N` / `server accepts handled requests` + a line of three
 * numbers / `Reading: R Writing: W Waiting: K`) is read line by line as Scalyr does; a metric
 * whose line is missing is not reported. A page with none of them is garbage: the sample fails.
 *
 * Faults (server down, slow, HTTP error, garbage) fail the sample: the monitor source counts
 * each, logs the first of a burst (and each change of fault), retries with backoff, and logs the
 * recovery. sluice addition: `timeout` bounds each fetch (Scalyr's urllib has none).
 */
import { defineComponent, type OptionDecl } from '../../lib/component.js';
import { scalyrOption as s, sluiceOption as own } from '../../lib/config/schema.js';
import type { ScalyrMonitorSample } from './metricLine.js';
import { ScrapeError, statusInt, statusPageMonitor } from './httpScrape.js';

export const NGINX_MONITOR_OPTIONS: OptionDecl[] = [
  s({ name: 'status_url', type: 'string', default: 'http://localhost/nginx_status', description: 'The URL the monitor fetches to retrieve the nginx status information (a `location` with `stub_status on;`).' }),
  s({ name: 'source_address', type: 'string', default: '127.0.0.1', description: 'The IP address used as the source address when fetching the status URL. Many servers require this to be 127.0.0.1 because they only serve the status page to requests from localhost.' }),
  own({ name: 'timeout', type: 'float', min: 0.001, defaultText: 'min(`sample_interval`, 30)', description: 'Seconds a fetch of the status page may take; a slower answer fails the sample (counted, logged once per fault).' }),
];

/** The samples of one `stub_status` page (throws a `ScrapeError` of kind `garbage` when it is not one). */
export function parseStubStatus(body: string): ScalyrMonitorSample[] {
  const found: Record<string, number | undefined> = {};
  const lines = body.split(/\r\n|\r|\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.startsWith('Active connections:')) {
      found.active = statusInt(line.slice('Active connections:'.length).trim());
    } else if (line.startsWith('server accepts handled requests')) {
      i++;
    } else if (line.startsWith('Reading:')) {
      const v = line.trim().split(/\s+/);
      found.reading = statusInt(v[1]);
      found.writing = statusInt(v[3]);
      found.waiting = statusInt(v[5]);
    }
  }
  const samples: ScalyrMonitorSample[] = [];
  for (const [key, metric] of [
    ['active', 'nginx.connections.active'],
    ['reading', 'nginx.connections.reading'],
    ['writing', 'nginx.connections.writing'],
    ['waiting', 'nginx.connections.waiting'],
  ] as const) {
    const v = found[key];
    if (v !== undefined) samples.push({ metric, value: v });
  }
  if (samples.length === 0) {
    const head = body.slice(0, 80).replace(/\s+/g, ' ');
    throw new ScrapeError('garbage', `the status page is not an nginx stub_status page (no "Active connections:" / "Reading:" lines; starts with ${JSON.stringify(head)}); check that status_url points at a location with "stub_status on;"`);
  }
  return samples;
}

export const nginxMonitor = statusPageMonitor('nginx_monitor', NGINX_MONITOR_OPTIONS, parseStubStatus);

export const nginxMonitorComponent = defineComponent({
  kind: 'monitor',
  type: 'nginx_monitor',
  aliases: ['scalyr_agent.builtin_monitors.nginx_monitor'],
  doc: 'Fetches nginx\'s `stub_status` page (`status_url`) at each sample and records `nginx.connections.active`, `nginx.connections.reading`, `nginx.connections.writing` and `nginx.connections.waiting`. Usually `status_url: "http://localhost:8080/nginx_status"`.',
  options: NGINX_MONITOR_OPTIONS,
  example: { module: 'nginx_monitor', id: 'customers', status_url: 'http://localhost:8080/nginx_status' },
  create: nginxMonitor,
});
