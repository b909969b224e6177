/**
 * Python's `fnmatch` semantics as a RegExp (used for `exclude` globs, which Scalyr applies to the
 * full path): `*` matches any run of characters INCLUDING `/` and leading dots, `?` one
 * character, `[abc]`/`[!abc]` a class. Everything else is literal. Case-sensitive (POSIX).
 */
export function fnmatchRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      let j = i + 1;
      if (pattern[j] === '!') j++;
      if (pattern[j] === ']') j++;
      const end = pattern.indexOf(']', j);
      if (end === -1) re += '\\[';
      else {
        let body = pattern.slice(i + 1, end).replace(/\\/g, '\\\\');
        if (body.startsWith('!')) body = '^' + body.slice(1);
        else if (body.startsWith('^')) body = '\\' + body;
        re += `[${body}]`;
        i = end;
      }
    } else re += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`^(?:${re})$`, 's');
}

/** True when `p` matches the fnmatch pattern. */
export function fnmatch(p: string, pattern: string): boolean {
  return fnmatchRegExp(pattern).test(p);
}
