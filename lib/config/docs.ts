/**
 * Renders `docs/configuration.md` from the schema (`schema.ts`), so the reference always matches
 * what the validator accepts. Run after a build to regenerate:
 *
 *     node dist/lib/config/docs.js > docs/configuration.md
 *
 * `spec/config.docs.spec.ts` fails when the committed file is stale.
 */
import { pathToFileURL } from 'node:url';
import { configSchema, envNamesFor, type OptionSpec } from './schema.js';

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

function table(options: OptionSpec[], withEnv: boolean): string {
  const head = withEnv
    ? '| Option | Type | Default | Environment | From | Description |\n|---|---|---|---|---|---|\n'
    : '| Option | Type | Default | From | Description |\n|---|---|---|---|---|\n';
  const rows = options.map((o) => {
    const from = o.origin === 'sluice' ? 'sluice' : o.noEffect ? 'Scalyr (no effect)' : 'Scalyr';
    const cells = ['`' + o.name + '`', esc(typeText(o)), esc(defaultText(o))];
    if (withEnv) {
      const env = envNamesFor(o);
      cells.push(env.length ? '`' + env[0] + '`' : '—');
    }
    cells.push(from, esc(o.description));
    return '| ' + cells.join(' | ') + ' |';
  });
  return head + rows.join('\n') + '\n';
}

/** The whole reference as Markdown. Deterministic (no dates, no host names). */
export function renderConfigDocs(): string {
  const parts: string[] = [];
  parts.push(`# sluice configuration reference

<!-- Generated from lib/config/schema.ts by lib/config/docs.ts. Do not edit by hand:
     npm run build && node dist/lib/config/docs.js > docs/configuration.md -->

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
   file), in sorted name order, then those of \`SCALYR_EXTRA_CONFIG_DIR\`. Only \`logs\`, \`monitors\`,
   \`journald_logs\`, \`k8s_logs\`, \`workers\` (appended), \`server_attributes\` (merged key by key) and
   \`import_vars\` may appear in several files; any other key set in two files is an error naming both.
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
  parts.push('## Global options\n\n' + table(configSchema.global, true));
  parts.push('## Log entries (`logs[]`)\n\n' + table(configSchema.logEntry, false));
  parts.push('### `lineGroupers[]`\n\nEach grouper needs `start` and exactly one continuation key.\n\n' + table(configSchema.lineGrouper, false));
  parts.push('### `sampling_rules[]`\n\n' + table(configSchema.samplingRule, false));
  parts.push('### `redaction_rules[]`\n\n' + table(configSchema.redactionRule, false));
  parts.push(
    '## Monitor entries (`monitors[]`)\n\nKeys not listed here are the monitor\'s own options and are passed to it unchanged.\n\n' +
      table(configSchema.monitor, false),
  );
  parts.push('## `apm` (sluice)\n\n' + table(configSchema.apm, false));
  parts.push('## `http_endpoint` (sluice)\n\n' + table(configSchema.httpEndpoint, false));
  parts.push('## `upload` (sluice)\n\n' + table(configSchema.upload, false));
  parts.push('## `import_vars[]` entries\n\nA plain string is a variable name with default `""`.\n\n' + table(configSchema.importVar, false));
  return parts.join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.stdout.write(renderConfigDocs());
}
