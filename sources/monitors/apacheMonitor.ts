/**
 * `apache_monitor` (Scalyr's `scalyr_agent.builtin_monitors.apache_monitor`): fetches Apache's
 * `mod_status` machine-readable page (`status_url`, ending in `?auto`) at each sample and records
 * `apache.workers.active` (BusyWorkers), `apache.workers.idle` (IdleWorkers),
 * `apache.connections.active` (ConnsTotal), `apache.connections.writing` (ConnsAsyncWriting),
 * `apache.connections.idle` (ConnsAsyncKeepAlive) and `apache.connections.closing`
 * (ConnsAsyncClosing), as integers; a metric whose line is missing is not reported (ConnsTotal
 * and the async counts exist with the event MPM only). A page with none of them is garbage:
 * the sample fails with Scalyr's hint about `?auto`.
 *
 * Faults (server down, slow, HTTP error, garbage) fail the sample: the monitor source counts
 * each, logs the first of a burst (and each change of fault), retries with backoff, and logs the
 * recovery. sluice addition: `timeout` bounds each fetch (Scalyr's urllib has none).
 */
import { defineComponent, type OptionDecl } from '../../lib/component.js';
import { scalyrOption as s, sluiceOption as own } from '../../lib/config/schema.js';
import type { ScalyrMonitorSample } from './metricLine.js';
import { ScrapeError, statusInt, statusPageMonitor } from './httpScrape.js';

export const APACHE_MONITOR_OPTIONS: OptionDecl[] = [
  s({ name: 'status_url', type: 'string', default: 'http://localhost/server-status/?auto', description: 'The URL -- in particular, the port number -- at which the Apache status module is served. It should end in `?auto` so the machine-readable version of the page is returned.' }),
  s({ name: 'source_address', type: 'string', default: '127.0.0.1', description: 'The IP address used as the source address when fetching the status URL. Many servers require this to be 127.0.0.1 because they only serve the status page to requests from localhost.' }),
  own({ name: 'timeout', type: 'float', min: 0.001, defaultText: 'min(`sample_interval`, 30)', description: 'Seconds a fetch of the status page may take; a slower answer fails the sample (counted, logged once per fault).' }),
];

/** mod_status `?auto` keys and the metrics they become, in Scalyr's order. */
const APACHE_METRICS: ReadonlyArray<readonly [string, string]> = [
  ['BusyWorkers:', 'apache.workers.active'],
  ['IdleWorkers:', 'apache.workers.idle'],
  ['ConnsTotal:', 'apache.connections.active'],
  ['ConnsAsyncWriting:', 'apache.connections.writing'],
  ['ConnsAsyncKeepAlive:', 'apache.connections.idle'],
  ['ConnsAsyncClosing:', 'apache.connections.closing'],
];

/** The samples of one `mod_status ?auto` page (throws a `ScrapeError` of kind `garbage` when it has none). */
export function parseModStatus(body: string): ScalyrMonitorSample[] {
  const found = new Map<string, number>();
  for (const line of body.split(/\r\n|\r|\n/)) {
    for (const [key] of APACHE_METRICS) {
      if (!line.startsWith(key)) continue;
      const v = statusInt(line.trim().split(/\s+/)[1]);
      if (v !== undefined) found.set(key, v);
    }
  }
  const samples: ScalyrMonitorSample[] = [];
  for (const [key, metric] of APACHE_METRICS) {
    const v = found.get(key);
    if (v !== undefined) samples.push({ metric, value: v });
  }
  if (samples.length === 0) {
    const head = body.slice(0, 80).replace(/\s+/g, ' ');
    throw new ScrapeError('garbage', `Status page did not match expected format. Check to make sure you included the "?auto" option in the status url (the page starts with ${JSON.stringify(head)})`);
  }
  return samples;
}

export const apacheMonitor = statusPageMonitor('apache_monitor', APACHE_MONITOR_OPTIONS, parseModStatus);

export const apacheMonitorComponent = defineComponent({
  kind: 'monitor',
  type: 'apache_monitor',
  aliases: ['scalyr_agent.builtin_monitors.apache_monitor'],
  doc: 'Fetches Apache\'s `mod_status` page (`status_url`, ending in `?auto`) at each sample and records `apache.workers.active`, `apache.workers.idle`, `apache.connections.active`, `apache.connections.writing`, `apache.connections.idle` and `apache.connections.closing`. Usually `status_url: "http://localhost:80/server-status/?auto"`.',
  options: APACHE_MONITOR_OPTIONS,
  example: { module: 'apache_monitor', status_url: 'http://localhost/server-status/?auto' },
  create: apacheMonitor,
});
