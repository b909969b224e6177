/**
 * Renders `docs/configuration.md` from the declarations: the agent's own options, the keys the
 * log and monitor parts read, and a section per component (kind, type, aliases, doc, its
 * options: type, default, environment variables, where each lives, whether a reload applies it
 * live, and "no effect" with the reason), built-ins first. `app/config.ts` `configDocsOf(registry)`
 * feeds it a registry, so the reference can include a config's plugins (`sluice config-docs
 * --config F`); `spec/config.docs.spec.ts` fails when the committed file is stale.
 */
import type { Component, OptionDecl } from '../component.js';
import { homeOf } from '../component.js';
import type { PartDeclarations } from './derive.js';
import { listKeysOf } from './load.js';
import { envNamesFor, type OptionSpec } from './schema.js';

const esc = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function defaultText(o: OptionSpec): string {
  if (o.defaultText !== undefined) return o.defaultText;
  if (o.default === undefined) return o.required ? '**required**' : '—';
  return '`' + JSON.stringify(o.default) + '`';
}

function typeText(o: OptionSpec): string {
  let t: string = o.type;
  if (o.type === 'stringArray') t = 'list of strings';
  else if (o.type === 'stringMap') t = 'object of strings';
  else if (o.type === 'regex') t = 'regex';
  else if (o.type === 'array') t = 'list';
  const range: string[] = [];
  if (o.min !== undefined && o.max !== undefined) range.push(`${o.min}–${o.max}`);
  else if (o.min !== undefined) range.push(`≥ ${o.min}`);
  else if (o.max !== undefined) range.push(`≤ ${o.max}`);
  if (o.enum) range.push(o.enum.map((e) => '`' + e + '`').join(' / '));
  return range.length ? `${t} (${range.join('; ')})` : t;
}

function fromText(o: OptionSpec): string {
  const origin = o.origin === 'sluice' ? 'sluice' : 'Scalyr';
  return o.noEffect ? `${origin} (**no effect**)` : origin;
}

interface Column {
  head: string;
  cell(o: OptionDecl): string;
}

const NAME: Column = { head: 'Option', cell: (o) => '`' + o.name + '`' };
const TYPE: Column = { head: 'Type', cell: (o) => esc(typeText(o)) };
const DEFAULT: Column = { head: 'Default', cell: (o) => esc(defaultText(o)) };
/** Environment variables apply to top-level options only (`own` is a component option's default scope). */
const envColumn = (defaultScope: 'own' | 'global'): Column => ({
  head: 'Environment',
  cell: (o) => {
    if ((o.scope ?? defaultScope) !== 'global') return '—';
    const env = envNamesFor(o);
    return env.length ? '`' + env[0] + '`' : '—';
  },
});
const ENV = envColumn('global');
const LIVE: Column = { head: 'Live', cell: (o) => (o.noEffect ? '—' : o.live ? 'yes' : 'restart') };
const FROM: Column = { head: 'From', cell: fromText };
const DESCRIPTION: Column = { head: 'Description', cell: (o) => esc(o.description) };

function table(options: readonly OptionDecl[], columns: Column[]): string {
  const head = '| ' + columns.map((c) => c.head).join(' | ') + ' |\n|' + columns.map(() => '---|').join('') + '\n';
  return head + options.map((o) => '| ' + columns.map((c) => c.cell(o)).join(' | ') + ' |').join('\n') + '\n';
}

/** Sub-tables for the fields of object options and of list items (`lineGroupers[]`, `http_endpoint`…). */
function fieldTables(options: readonly OptionSpec[], level: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const o of options) {
    if (!o.fields?.length) continue;
    const name = prefix + o.name + (o.type === 'array' ? '[]' : '');
    out.push(`${level} \`${name}\`\n\n` + table(o.fields, [NAME, TYPE, DEFAULT, FROM, DESCRIPTION]));
    out.push(...fieldTables(o.fields, level, name + '.'));
  }
  return out;
}

function where(c: Component, o: OptionDecl): string {
  if ((o.scope ?? 'own') === 'global') return 'top level';
  const home = homeOf(c);
  if (home === 'entry') return '`logs[]` entry';
  if (home.startsWith('section:')) return '`' + home.slice('section:'.length) + '`';
  return { monitor: '`monitors[]` entry', sink: '`sink`', operator: '`operators[]` item', source: '`sources[]` item', parser: '`logs[]` entry' }[c.kind];
}

const KIND_TITLE = { source: 'Source', parser: 'Parser', operator: 'Operator', monitor: 'Monitor', sink: 'Sink' } as const;

function componentSection(c: Component, builtin: boolean): string {
  const lines: string[] = [`### ${KIND_TITLE[c.kind]} \`${c.type}\`${builtin ? '' : ' (plugin)'}`, ''];
  if (c.aliases?.length) lines.push(`Also named: ${c.aliases.map((a) => '`' + a + '`').join(', ')}.`, '');
  if (c.doc) lines.push(c.doc, '');
  if (c.counterMetrics?.length) {
    lines.push(`Cumulative counters (exported over OTLP as monotonic cumulative sums; its other metrics as gauges): ${c.counterMetrics.map((m) => '`' + m + '`').join(', ')}.`, '');
  }
  if (c.options === undefined) {
    lines.push('Declares no options: its config is passed to it unchecked, and any change to it restarts its part.', '');
    return lines.join('\n');
  }
  if (c.options.length === 0) {
    lines.push('No options of its own.', '');
    return lines.join('\n');
  }
  const whereCol: Column = { head: 'Where', cell: (o) => where(c, o) };
  lines.push(table(c.options, [NAME, TYPE, DEFAULT, whereCol, envColumn('own'), LIVE, FROM, DESCRIPTION]));
  const subs = fieldTables(c.options, '####');
  if (subs.length) lines.push(subs.join('\n'));
  return lines.join('\n');
}

/** What {@link renderConfigDocs} renders. */
export interface ConfigDocsInput {
  /** What the agent and the log / monitor parts read themselves. */
  parts: PartDeclarations;
  /** Every component, built-ins first (in the order to list them). */
  components: readonly Component[];
  /** Which of `components` are built in (the rest are marked as plugins). */
  isBuiltin(c: Component): boolean;
}

/** The whole reference as Markdown. Deterministic (no dates, no host names). */
export function renderConfigDocs(input: ConfigDocsInput): string {
  const parts: string[] = [];
  const lists = listKeysOf(input.parts.agent)
    .map((k) => '`' + k + '`')
    .join(', ');
  parts.push(`# sluice configuration reference

<!-- Generated from the option declarations (lib/config/agentOptions.ts and each component's)
     by lib/config/docs.ts. Do not edit by hand: npm run build && bin/sluice config-docs > docs/configuration.md -->

sluice reads Scalyr Agent 2's \`agent.json\` unchanged. Options marked **Scalyr** mean what they mean
in Scalyr's agent; **Scalyr (no effect)** options are accepted so existing files load, but sluice does
not act on them; **sluice** options are sluice's own.

## File format

Config files use Scalyr's lenient JSON: \`//\` and \`/* */\` comments, unquoted keys
(\`[A-Za-z_][A-Za-z0-9_]*\`), commas may be left out at line breaks, trailing commas, \`"a" + "b"\`
concatenation, \`"""\` triple-quoted strings, duplicate keys (the last wins). Files must be UTF-8.
Backslashes in regular expressions are written twice (\`"\\\\d+"\`).

## Where options come from

1. The main file (the one given to the agent, e.g. with \`--config\`).
2. Fragments: every \`*.json\` file directly in \`config_directory\` (default \`agent.d\` next to the main
   file), in sorted name order, then those of \`SCALYR_EXTRA_CONFIG_DIR\`. Only ${lists} (appended),
   \`server_attributes\` (merged key by key) and \`import_vars\` may appear in several files; any other
   key set in two files is an error naming both.
3. \`import_vars\`: \`$NAME\` in string values of the same file is replaced by the environment
   variable (when set and not empty) or the entry's \`default\`; longest names first; no escaping.
4. Environment: an option absent from every file is read from the variable in the "Environment"
   column (upper case, or all lower case). A boolean from the environment is true only for \`true\`;
   lists may be written \`a, b c\` or \`["a","b"]\`. When both are set the file wins (with a warning).

Values are converted as Scalyr does: a boolean may be \`true\`/\`false\`, \`0\`/\`1\`, or a string that
is false when \`""\`, \`"f"\` or \`"false"\`, true otherwise, except that sluice also reads \`"no"\`, \`"off"\`, \`"0"\`
and \`"False"\` as false (Scalyr reads them as true, so these warn too); a string that is not a clear yes/no (\`true\`, \`false\`,
\`yes\`, \`no\`, \`on\`, \`off\`, \`1\`, \`0\`, \`t\`, \`f\`, any case) is read as Scalyr does with a warning naming
the key; integers truncate numbers and
numeric strings; strings accept numbers.

## Validation

Everything is checked before anything starts. Errors name the file, line, column and key path:

    /etc/sluice/agent.json:12:7: logs[2].redaction_rules[0].match_expression: invalid regular expression: ...

Unknown keys are warnings (with their location and a "did you mean" hint): Scalyr configs with options
sluice does not implement still load. Regular expressions use Python syntax and are compiled at load time.

Each option is declared by what reads it: the agent itself ("Agent options" below) or a component
("Components" below: the file source, the parsers, the line stages, the monitors, the sinks, and
those of the plugins a config loads). A monitor entry, a log entry's \`operators[]\` item, the \`sink\`
object and a \`sources[]\` item are checked against the options their component declares; a plugin
component that declares none keeps its keys unchecked. \`sluice config-docs --config F\` prints this
reference with the components of the plugins F loads.

## Where sluice differs from Scalyr

- No \`api_key\`: not an error. Events go to the embedded default sink (\`embedded_output\`), the loaded
  config has \`embedded_default: true\`, and a warning says so.
- \`max_allowed_checkpoint_age\` defaults to 0 (never expire): Scalyr's 900 s loses data written during a
  longer outage. A value you set is honoured.
- Data is never skipped silently: \`skip_too_far_behind\` and \`max_no_success_secs\` turn on Scalyr's
  skipping explicitly.
- Relative \`agent_data_path\` / \`agent_log_path\` resolve against the main file's directory; the
  defaults are \`/var/lib/sluice\` and \`/var/log/sluice\`.
- \`implicit_agent_log_collection\` adds \`agent.log\` only (sluice has no worker-session logs).
- Proxies are used directly (no \`use_requests_lib\` needed); compression is \`deflate\` or \`none\`.

## Derived values

The loaded config also carries \`embedded_default\` (true without an api key),
\`max_send_rate_bytes_per_second\` (the parsed \`max_send_rate_enforcement\` rate, or null), and marks
entries the agent adds itself with \`implicit: true\`.
`);
  const { agent, logEntry, monitorEntry } = input.parts;
  parts.push(
    '## Agent options\n\nTop-level options the agent and the config loader read. **Live** "yes": a reload applies a change without restarting the agent; "restart": the change takes effect at the next start.\n\n' +
      table(agent, [NAME, TYPE, DEFAULT, ENV, LIVE, FROM, DESCRIPTION]),
  );
  const agentSubs = fieldTables(agent, '###');
  if (agentSubs.length) parts.push(agentSubs.join('\n'));
  const entrySection = (title: string, intro: string, decls: readonly OptionDecl[], who: string) => {
    const own = decls.filter((o) => o.scope !== 'global');
    const global = decls.filter((o) => o.scope === 'global');
    let text = `## ${title}\n\n${intro} A change to one restarts that entry only ("restart" under **Live**).\n\n` + table(own, [NAME, TYPE, DEFAULT, LIVE, FROM, DESCRIPTION]);
    const subs = fieldTables(own, '###');
    if (subs.length) text += '\n' + subs.join('\n');
    if (global.length) text += `\nTop-level options the ${who} reads:\n\n` + table(global, [NAME, TYPE, DEFAULT, ENV, LIVE, FROM, DESCRIPTION]);
    return text;
  };
  if (logEntry.length) parts.push(entrySection('Log entries (`logs[]`)', 'Keys the log part reads itself; the options of the file source, the parser and the line stages follow under "Components".', logEntry, 'log part'));
  if (monitorEntry.length) parts.push(entrySection('Monitor entries (`monitors[]`)', 'Keys every monitor entry may have; a monitor\'s own options follow under "Components".', monitorEntry, 'monitor part'));
  const builtins = input.components.filter((c) => input.isBuiltin(c));
  const plugins = input.components.filter((c) => !input.isBuiltin(c));
  parts.push(
    '## Components\n\nEach component\'s own options (in its `logs[]` entry, `monitors[]` entry, `operators[]` item, `sink` object or section) and the top-level options it reads. **Live** "yes": a reload hands the change to the running component; "restart": the part it belongs to (that log entry, monitor, source or the sink) restarts, and nothing else. Built-ins first' +
      (plugins.length ? ', then the plugins the config loads.' : '.') +
      '\n',
  );
  for (const c of [...builtins, ...plugins]) parts.push(componentSection(c, input.isBuiltin(c)));
  return parts.join('\n');
}
