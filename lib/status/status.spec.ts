import { asctime, fileLine, renderStatusText } from './text.js';
import { healthOf } from './health.js';
import type { AgentStatus } from './types.js';
import { createCounters } from '../counters.js';

function status(over: Partial<AgentStatus> = {}): AgentStatus {
  return {
    version: '1.2.3',
    pid: 42,
    startedAt: 1409872453000,
    now: 1409958853000,
    user: 'root',
    serverHost: 'test_machine',
    mode: 'addEvents',
    config: { status: 'good', files: ['/etc/sluice/agent.json', '/etc/sluice/agent.d/server.json'], errors: [], warnings: [], lastChecked: 1409958853000, lastChanged: 1409917453000, lastGood: 1409958853000 },
    sink: { lastSuccessTime: 1409958793000, lastAttemptTime: 1409958793000, lastResponseStatus: 'success', pendingBytes: 0, counters: createCounters() },
    logs: [],
    monitors: [],
    pendingBytes: 0,
    creditsTotal: 1000,
    ...over,
  };
}

describe('status text', () => {
  it('formats times like C asctime in UTC with a space-padded day (Scalyr status vector)', () => {
    expect(asctime(1409958853000)).toBe('Fri Sep  5 23:14:13 2014 UTC');
    expect(asctime(null)).toBe('Never');
  });

  it("formats a file line like Scalyr's `Path ...: copied` line", () => {
    expect(
      fileLine({ path: '/x', copiedBytes: 23434, copiedLines: 214324, pendingBytes: 12943, skippedBytes: 12, failedBytes: 1432, droppedBytes: 5, droppedLines: 10, redactions: 10, lastChecked: 1409958733000 }),
    ).toBe('copied 23434 bytes (214324 lines), 12943 bytes pending, 12 bytes skipped, 1432 bytes failed, 5 bytes dropped by sampling (10 lines), 10 redactions, last checked Fri Sep  5 23:12:13 2014 UTC');
  });

  it('renders the sections with Scalyr column alignment and the Health check line', () => {
    const text = renderStatusText(
      status({ logs: [{ key: 'log:/var/log/a.log', path: '/var/log/a.log', files: [], counters: createCounters() }], monitors: [{ key: 'linux_system_metrics()', status: { linesEmitted: 20, errors: 0 } }] }),
      '/var/log/sluice/agent.log',
    );
    expect(text).toContain('Current time:            Fri Sep  5 23:14:13 2014 UTC\n');
    expect(text).toContain('Configuration files:   /etc/sluice/agent.json\n                       /etc/sluice/agent.d/server.json\n');
    expect(text).toContain('Status:                Good (files parsed successfully)\n');
    expect(text).toContain('Last copy response status:                 success\n');
    expect(text).toContain('Health check:                              Good\n');
    expect(text).toContain('Path /var/log/a.log: no matching readable file, last checked Fri Sep  5 23:14:13 2014 UTC');
    expect(text).toContain('linux_system_metrics(): 20 lines emitted, 0 errors');
    expect(text).not.toContain('Needs a restart');
  });

  it('lists the agent options changed since start that need a restart', () => {
    const text = renderStatusText(status({ config: { ...status().config, needsRestart: ['agent_data_path', 'max_pending_bytes'] } }), '/var/log/sluice/agent.log');
    expect(text).toContain('Needs a restart:       agent_data_path, max_pending_bytes (changed since start; the started values stay in force until "sluice restart")\n');
  });
});

describe('health verdict', () => {
  it('is Good when the sink succeeded recently or has nothing to send', () => {
    expect(healthOf(status())).toEqual({ healthy: true, reason: 'Good' });
    expect(healthOf(status({ sink: { lastSuccessTime: 0, pendingBytes: 0 } }))).toEqual({ healthy: true, reason: 'Good' });
  });

  it('is unhealthy when data waits and the last success is too old, with the reason', () => {
    const v = healthOf(status({ pendingBytes: 500, sink: { lastSuccessTime: 1409958853000 - 120_000, lastResponseStatus: 'error/server/backoff', consecutiveFailures: 3 } }));
    expect(v.healthy).toBe(false);
    expect(v.reason).toMatch(/Upload failing: no success for 120 seconds with 500 bytes pending \(last response: error\/server\/backoff\)/);
  });

  it('is not unhealthy while data merely waits for its first attempt', () => {
    expect(healthOf(status({ pendingBytes: 500, sink: { lastSuccessTime: 1409958853000 - 120_000, consecutiveFailures: 0, health: 'good' } })).healthy).toBe(true);
  });

  it('is unhealthy with a bad config or a part that failed to start', () => {
    const bad = status({ config: { ...status().config, status: 'bad' } });
    expect(healthOf(bad).reason).toMatch(/Bad config/);
    const failed = status({ logs: [{ key: 'log:/a', path: '/a', files: [], counters: createCounters(), error: 'EACCES' }] });
    expect(healthOf(failed).reason).toMatch(/\/a failed: EACCES/);
  });
});
