import fs from 'node:fs';
import path from 'node:path';
import { renameLogfile, renameVariables } from './renameLogfile.js';

const repoRoot = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');

describe('renameLogfile', () => {
  test('placeholders', () => {
    expect(renameVariables('/var/log/x.log')).toEqual({ PATH1: 'var', PATH2: 'log', PATH3: 'x.log', BASENAME: 'x.log', BASENAME_NO_EXT: 'x' });
    expect(renameLogfile('/var/log/app/x.log', '/$PATH2/${PATH3}-$BASENAME_NO_EXT.txt')).toEqual({ logfile: '/log/app-x.txt' });
    expect(renameLogfile('/a/b.c', 'cost $$5 $BASENAME')).toEqual({ logfile: 'cost $5 b.c' });
  });

  test('BASENAME_NO_EXT follows os.path.splitext', () => {
    expect(renameVariables('/h/.bashrc').BASENAME_NO_EXT).toBe('.bashrc');
    expect(renameVariables('/h/a.tar.gz').BASENAME_NO_EXT).toBe('a.tar');
    expect(renameVariables('/h/noext').BASENAME_NO_EXT).toBe('noext');
  });

  test('unknown placeholder or stray $ keeps the original with a warning', () => {
    const r = renameLogfile('/x/text.txt', '/scalyr/test/$PATH99/log.log');
    expect(r.logfile).toBe('/x/text.txt');
    expect(r.warning).toMatch(/unknown placeholder \$PATH99/);
    expect(renameLogfile('/x/t', 'a$ b').warning).toMatch(/invalid placeholder/);
  });

  test('regex form uses Python replacement syntax', () => {
    expect(renameLogfile('/d/text.txt', { match: '.*/(.*)\\.txt$', replacement: '/renamed/\\1.log' })).toEqual({ logfile: '/renamed/text.log' });
    expect(renameLogfile('/d/text.txt', { match: '(?P<n>text)', replacement: '\\g<n>2' })).toEqual({ logfile: '/d/text2.txt' });
  });

  test('regex form: invalid regex, invalid group, unchanged → warning', () => {
    expect(renameLogfile('/d/t.txt', { match: '(', replacement: 'x' }).warning).toMatch(/invalid regular expression/);
    expect(renameLogfile('/d/t.txt', { match: '(t)', replacement: '\\2' }).warning).toMatch(/invalid group reference/);
    const same = renameLogfile('/d/t.txt', { match: 'zzz', replacement: 'y' });
    expect(same).toEqual({ logfile: '/d/t.txt', warning: expect.stringMatching(/did not change/) });
  });

  describe('log_tailing.json rename cases', () => {
    const cases = (JSON.parse(fs.readFileSync(path.resolve(repoRoot, 'spec/fixtures/vectors/scalyr/log_tailing.json'), 'utf8')).cases as any[]).filter(
      (c) => c.input?.log_config?.rename_logfile !== undefined,
    );
    test.each(cases.map((c) => [c.name, c]))('%s', (_name, c) => {
      const dir = '/tmp/some-dir';
      const file = c.input.log_config.path.replace('<DIR>', dir);
      const expected = c.expected.matched[0];
      const r = renameLogfile(file, c.input.log_config.rename_logfile);
      expect(r.logfile).toBe(expected.logfile_attr.replace('<DIR>', dir));
      // original_file is set by the caller exactly when renaming worked (no warning).
      expect(r.warning === undefined).toBe(expected.original_file_attr !== null);
    });
  });
});
