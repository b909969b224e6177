/**
 * `shell_monitor` (behavior §6.5): runs `command` with `/bin/sh -c` at each sample and reports
 * its output as metric `output` with fields `command`, `length`, `duration` (whole seconds)
 * and `exit_code`.
 *
 * Output = stderr + (`\n` if both are non-empty) + stdout. `extract` (a Python regex with a
 * group): the group 1 of the first search match replaces the output (no match: unchanged).
 * `length` is the output length after extraction. Unless `log_all_lines`, the value is the
 * first run of non-CR/LF characters, stripped. Longer than `max_characters` (200, 0..10000):
 * cut and `...` appended.
 *
 * sluice additions: a command still running after `timeout` seconds (default
 * min(sample_interval, 30)) has its whole process group killed; the sample is still reported
 * with `exit_code` -9 (Python's code for SIGKILL) and an `error` field. Unsubscribing (monitor
 * stop) kills a running command the same way. Runs never overlap: the monitor source skips a
 * tick while the previous run is still going.
 */
import { Observable } from 'rxjs';
import { spawn } from 'node:child_process';
import type { MonitorContext } from '../../lib/registry.js';
import { defineComponent, type OptionDecl, type OptionProblem } from '../../lib/component.js';
import { scalyrOption as s, sluiceOption as own } from '../../lib/config/schema.js';
import { compilePythonRegex } from '../../lib/regex.js';
import type { ScalyrMonitorSample } from './metricLine.js';
import { readDeclared } from '../../lib/component.js';

/** The keys of a `shell_monitor` entry the monitor reads (besides the entry's own, `MONITOR_ENTRY_OPTIONS`). */
export const SHELL_MONITOR_OPTIONS: OptionDecl[] = [
  s({ name: 'command', type: 'string', description: 'The shell command to execute (with `/bin/sh -c`) at each sample. Required.' }),
  s({ name: 'extract', type: 'regex', default: '', description: 'A regular expression applied to the command output; it must contain a group (a subexpression in parentheses), and only the text of that group (of the first match) is recorded. No match: the output is recorded unchanged.' }),
  s({ name: 'log_all_lines', type: 'bool', default: false, description: 'Record the whole command output; otherwise only its first line.' }),
  s({ name: 'max_characters', type: 'int', default: 200, min: 0, max: 10000, description: 'At most this many characters of output are recorded (longer output is cut and `...` appended). Up to 10000, but the Scalyr server truncates fields to 3500 characters.' }),
  own({ name: 'timeout', type: 'float', min: 0.001, defaultText: 'min(`sample_interval`, 30)', description: 'Seconds a command may run; then its whole process group is killed and the sample is reported with `exit_code` -9 and an `error` field.' }),
];

/** The cross-field rules of a `shell_monitor` entry (also applied when the factory is called directly). */
export function checkShellMonitor(own: Readonly<Record<string, unknown>>): OptionProblem[] {
  const problems: OptionProblem[] = [];
  const command = own.command;
  if (typeof command !== 'string' || command.trim() === '') problems.push({ key: 'command', message: 'missing required option "command"' });
  const extract = own.extract;
  if (typeof extract === 'string' && extract !== '' && !extract.includes('(')) {
    problems.push({ key: 'extract', message: 'must contain a group "(...)" whose text replaces the output' });
  }
  return problems;
}

export interface ShellResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export interface ShellOptions {
  command: string;
  extract?: RegExp;
  logAllLines: boolean;
  maxCharacters: number;
}

/** Validates the options (throws with the option's name). */
export function shellOptions(config: Readonly<Record<string, unknown>>): ShellOptions {
  const c = readDeclared(SHELL_MONITOR_OPTIONS, config);
  const [problem] = checkShellMonitor(c);
  if (problem) throw new Error(`shell_monitor: "${problem.key}" ${problem.message}`);
  const command = String(c.command);
  const extract = c.extract !== '' ? compilePythonRegex(String(c.extract)) : undefined;
  const maxCharacters = Number(c.max_characters);
  if (!Number.isInteger(maxCharacters) || maxCharacters < 0 || maxCharacters > 10000) {
    throw new Error(`shell_monitor: "max_characters" must be an integer in 0..10000 (got ${String(c.max_characters)})`);
  }
  const logAllLines = c.log_all_lines === true || c.log_all_lines === 'true';
  return { command, extract, logAllLines, maxCharacters };
}

/** Python `str.strip()` whitespace. */
function pyStrip(s: string): string {
  return s.replace(/^[\s\u001c-\u001f\u0085]+|[\s\u001c-\u001f\u0085]+$/g, '');
}

/** The metric value and fields for a finished run (without `duration`): the §6.5 rules. */
export function shellOutputSample(o: ShellOptions, r: ShellResult): { value: string; fields: { command: string; length: number; exit_code: number } } {
  let output = r.stderr;
  if (r.stderr.length > 0 && r.stdout.length > 0) output += '\n';
  output += r.stdout;
  if (o.extract) {
    o.extract.lastIndex = 0;
    const m = o.extract.exec(output);
    if (m) output = m[1] ?? '';
  }
  const length = [...output].length;
  if (!o.logAllLines) {
    const m = /[^\r\n]+/.exec(output);
    output = pyStrip(m ? m[0] : '');
  }
  const chars = [...output];
  if (chars.length > o.maxCharacters) output = chars.slice(0, o.maxCharacters).join('') + '...';
  return { value: output, fields: { command: o.command, length, exit_code: r.exitCode } };
}

/** The monitor factory: each subscription runs the command once and emits one sample. */
export function shellMonitor(config: Readonly<Record<string, unknown>>, ctx: MonitorContext): Observable<ScalyrMonitorSample> {
  const o = shellOptions(config);
  const timeout = config.timeout;
  const timeoutSecs = timeout !== undefined && timeout !== null ? Number(timeout) : Math.min(ctx.sampleInterval, 30);
  if (!(timeoutSecs > 0)) throw new Error(`shell_monitor: "timeout" must be a positive number of seconds (got ${String(timeout)})`);
  const MAX_CAPTURE = 1 << 20;

  return new Observable<ScalyrMonitorSample>((subscriber) => {
    const started = Date.now();
    let timedOut = false;
    let finished = false;
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outLen = 0;
    let errLen = 0;
    const child = spawn('/bin/sh', ['-c', o.command], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const killGroup = () => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        try {
          child.kill('SIGKILL');
        } catch {
          /* already gone */
        }
      }
    };
    child.stdout.on('data', (b: Buffer) => {
      if (outLen < MAX_CAPTURE) out.push(b);
      outLen += b.length;
    });
    child.stderr.on('data', (b: Buffer) => {
      if (errLen < MAX_CAPTURE) err.push(b);
      errLen += b.length;
    });
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup();
    }, timeoutSecs * 1000);
    child.on('error', (e) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      subscriber.error(new Error(`shell_monitor: cannot run /bin/sh: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      // The shell exited; make sure nothing it started lives on (background children).
      if (timedOut) killGroup();
      const exitCode = code ?? (signal === 'SIGKILL' ? -9 : signal === 'SIGTERM' ? -15 : -1);
      const { value, fields } = shellOutputSample(o, {
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        exitCode,
      });
      const duration = Math.floor((Date.now() - started) / 1000);
      const all: Record<string, string | number> = { ...fields, duration };
      if (timedOut) all.error = `timed out after ${timeoutSecs}s; process group killed`;
      subscriber.next({ metric: 'output', value, fields: all });
      subscriber.complete();
    });
    return () => {
      clearTimeout(timer);
      if (!finished) {
        finished = true;
        killGroup();
      }
    };
  });
}

export const shellMonitorComponent = defineComponent({
  kind: 'monitor',
  type: 'shell_monitor',
  aliases: ['scalyr_agent.builtin_monitors.shell_monitor'],
  doc: 'Runs a shell command at each sample and records its output (first line, or all of it; optionally one group of a regular expression) as metric `output`, with fields `command`, `length`, `duration` and `exit_code`.',
  options: SHELL_MONITOR_OPTIONS,
  check: checkShellMonitor,
  example: { module: 'shell_monitor', id: 'kernel-version', command: 'uname -r' },
  create: shellMonitor,
});
