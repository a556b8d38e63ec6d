/**
 * Workspace glob patterns as VS Code spells them (`**` any directories, `*` and `?` within
 * one path segment, `{a,b}` alternatives, `[abc]` classes), matched against paths relative
 * to a workspace folder with `/` separators. Small on purpose: no dependency for this.
 */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  let depth = 0; // inside {...}
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*') {
      if (glob[i + 1] === '*') {
        // `**/` matches zero or more whole directories; a trailing `**` matches everything.
        const slash = glob[i + 2] === '/';
        re += slash ? '(?:[^/]*/)*' : '.*';
        i += slash ? 2 : 1;
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else if (c === '{') {
      re += '(?:';
      depth++;
    } else if (c === '}' && depth > 0) {
      re += ')';
      depth--;
    } else if (c === ',' && depth > 0) re += '|';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 1);
      if (end < 0) re += '\\[';
      else {
        const body = glob.slice(i + 1, end).replace(/\\/g, '\\\\');
        re += `[${body.startsWith('!') ? '^' + body.slice(1) : body}]`;
        i = end;
      }
    } else re += c.replace(/[.+^$()|\\\]]/g, '\\$&');
  }
  while (depth-- > 0) re += ')';
  return new RegExp(`^${re}$`);
}

/** Matches relative paths against include and exclude patterns. */
export class PathFilter {
  private readonly include: RegExp[];
  private readonly exclude: RegExp[];
  constructor(include: readonly string[], exclude: readonly string[]) {
    this.include = include.map(globToRegExp);
    this.exclude = exclude.map(globToRegExp);
  }

  matches(relPath: string): boolean {
    return this.include.some((r) => r.test(relPath)) && !this.excluded(relPath);
  }

  /** True if the path (a file or a directory, for pruning the walk) is excluded. */
  excluded(relPath: string): boolean {
    return this.exclude.some((r) => r.test(relPath) || r.test(`${relPath}/`));
  }
}
