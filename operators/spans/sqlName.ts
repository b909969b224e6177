/**
 * SQL naming and scrubbing for `SQL/Query` spans carrying `db.statement` (core-agent README:
 * "the operation name of the span will change to a more detailed name like SQL/User/select").
 *
 * - {@link scrubSql}: literals (strings, numbers, `$n`, `?`) become `?`, `IN (?, ?, …)` becomes
 *   `IN (?)`, whitespace collapses; statements over 16 384 characters are cut there first.
 * - {@link sqlName}: node-sql-parser on the scrubbed text (MySQL then PostgreSQL dialect) for the
 *   statement type and first table; a small tokenizer when the parser fails. The table is
 *   "classified" (singular CamelCase: `order_items` → `OrderItem`). `BEGIN`/`COMMIT`/`ROLLBACK`
 *   give `SQL/begin` etc.; a known verb without a table gives `SQL/<verb>`; nothing recognised
 *   keeps `SQL/Query`. Results are cached by scrubbed text (bounded).
 */
import sqlParser from 'node-sql-parser';

const MAX_SQL = 16_384;

export interface SqlName {
  /** `SQL/User/select`, `SQL/begin`, or `SQL/Query` when nothing was recognised. */
  name: string;
  model?: string;
  operation?: string;
  /** The scrubbed statement (safe to report). */
  scrubbed: string;
}

/** Replaces literals with `?` and collapses whitespace. */
export function scrubSql(sql: string): string {
  const s = sql.length > MAX_SQL ? sql.slice(0, MAX_SQL) : sql;
  return s
    .replace(/\$\$[\s\S]*?\$\$/g, '?') // dollar-quoted bodies
    .replace(/[EeBbXxNn]?'(?:[^'\\]|''|\\.)*'/g, '?') // string literals (standard, escaped, E'', B'', X'', N'')
    .replace(/\$\d+/g, '?') // positional parameters
    .replace(/(?<![\w.$"`])-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?![\w"`])/g, '?') // numbers not inside identifiers
    .replace(/\b(true|false|null)\b(?=\s*[,)])/gi, '?')
    .replace(/\s+/g, ' ')
    .replace(/\bIN\s*\(\s*\?(?:\s*,\s*\?)*\s*\)/gi, 'IN (?)')
    .replace(/VALUES\s*(\(\s*\?(?:\s*,\s*\?)*\s*\))(?:\s*,\s*\(\s*\?(?:\s*,\s*\?)*\s*\))+/gi, 'VALUES $1')
    .trim();
}

/** Singular CamelCase model name from a table name (`public."order_items"` → `OrderItem`). */
export function classify(table: string): string {
  let t = table.replace(/[`"[\]]/g, '');
  const dot = t.lastIndexOf('.');
  if (dot >= 0) t = t.slice(dot + 1);
  const words = t.split(/[_\-\s]+/).filter(Boolean);
  if (words.length === 0) return '';
  const last = words.length - 1;
  words[last] = singularize(words[last]!);
  return words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join('');
}

function singularize(w: string): string {
  const lower = w.toLowerCase();
  if (/(ss|us|is)$/.test(lower)) return w;
  if (lower.endsWith('ies') && w.length > 3) return w.slice(0, -3) + 'y';
  if (/(ches|shes|xes|zes|sses)$/.test(lower)) return w.slice(0, -2);
  if (lower.endsWith('s') && w.length > 1) return w.slice(0, -1);
  return w;
}

const parser = new sqlParser.Parser();
const cache = new Map<string, SqlName>();
const CACHE_MAX = 5000;
const VERBS = new Set(['select', 'insert', 'update', 'delete', 'replace', 'merge', 'upsert']);
const TX: Record<string, string> = { begin: 'begin', start: 'begin', commit: 'commit', rollback: 'rollback', end: 'commit' };

function make(scrubbed: string, operation?: string, table?: string): SqlName {
  if (!operation) return { name: 'SQL/Query', scrubbed };
  const model = table ? classify(table) : '';
  if (!model) return { name: `SQL/${operation}`, operation, scrubbed };
  return { name: `SQL/${model}/${operation}`, model, operation, scrubbed };
}

function viaParser(scrubbed: string): SqlName | undefined {
  for (const database of ['mysql', 'postgresql']) {
    try {
      const r = parser.parse(scrubbed, { database });
      const ast = Array.isArray(r.ast) ? r.ast[0] : r.ast;
      if (!ast || typeof ast !== 'object') continue;
      let type = String((ast as { type?: unknown }).type ?? '').toLowerCase();
      if (type === 'transaction') {
        const m = /^\s*(\w+)/.exec(scrubbed);
        const op = m ? TX[m[1]!.toLowerCase()] : undefined;
        return make(scrubbed, op ?? 'transaction');
      }
      if (type === 'replace') type = 'insert';
      const tables = (r.tableList ?? []).map((t: string) => t.split('::'));
      const own = tables.find((t: string[]) => t[0] === type) ?? tables[0];
      const table = own ? own[2] : undefined;
      return make(scrubbed, type || undefined, table && table !== 'null' ? table : undefined);
    } catch {
      /* try the next dialect, then the tokenizer */
    }
  }
  return undefined;
}

const IDENT = '((?:[`"\\[]?[\\w$]+[`"\\]]?\\.)*[`"\\[]?[\\w$]+[`"\\]]?)';
const FROM = new RegExp(`\\bfrom\\s+${IDENT}`, 'i');
const INTO = new RegExp(`\\binto\\s+${IDENT}`, 'i');
const UPDATE = new RegExp(`^\\s*update\\s+(?:only\\s+)?${IDENT}`, 'i');

/** Fallback: leading verb and the first table after FROM / INTO / UPDATE. */
export function tokenizeSql(scrubbed: string): SqlName {
  const m = /^\s*(?:\/\*[\s\S]*?\*\/\s*)*\(?\s*(\w+)/.exec(scrubbed);
  const verb = m ? m[1]!.toLowerCase() : '';
  if (TX[verb]) return make(scrubbed, TX[verb]);
  if (verb === 'with') {
    // CTE: name it by the main statement's verb and first real table after the CTE list.
    const main = /\)\s*(select|insert|update|delete)\b([\s\S]*)$/i.exec(scrubbed);
    if (main) return tokenizeSql(main[1] + main[2]);
    return make(scrubbed, 'select');
  }
  if (!VERBS.has(verb)) return make(scrubbed, undefined);
  const op = verb === 'replace' || verb === 'upsert' ? 'insert' : verb;
  const t = (op === 'insert' ? INTO : op === 'update' ? UPDATE : FROM).exec(scrubbed);
  return make(scrubbed, op, t ? t[1] : undefined);
}

/** Names a statement (cached). Never throws. */
export function sqlName(statement: string): SqlName {
  const scrubbed = scrubSql(statement);
  const hit = cache.get(scrubbed);
  if (hit) return hit;
  let out: SqlName;
  try {
    out = (scrubbed.length <= 4096 ? viaParser(scrubbed) : undefined) ?? tokenizeSql(scrubbed);
  } catch {
    out = { name: 'SQL/Query', scrubbed };
  }
  if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value as string);
  cache.set(scrubbed, out);
  return out;
}
