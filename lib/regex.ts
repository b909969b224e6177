/**
 * Regular expressions as users of Scalyr's agent write them (Python `re` syntax), compiled to
 * JavaScript. OWNED BY THE OPERATORS WORK: this first version only handles named groups; the
 * full translation (`$` before a final newline, `\Z`, `\A`, inline flags…) replaces it.
 */
export function compilePythonRegex(pattern: string, flags = ''): RegExp {
  const translated = pattern.replace(/\(\?P<([A-Za-z_][A-Za-z0-9_]*)>/g, '(?<$1>').replace(/\(\?P=([A-Za-z_][A-Za-z0-9_]*)\)/g, '\\k<$1>');
  return new RegExp(translated, flags);
}
