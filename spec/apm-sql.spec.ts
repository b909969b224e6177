/** SQL naming and scrubbing for `SQL/Query` spans. */
import { classify, scrubSql, sqlName, tokenizeSql } from '../operators/spans/sqlName.js';

describe('sqlName', () => {
  test.each([
    ['SELECT * FROM users WHERE id = $1', 'SQL/User/select'],
    ['select name from "order_items" oi join users u on u.id = oi.uid where x in (1,2,3)', 'SQL/OrderItem/select'],
    ["INSERT INTO posts (title, n) VALUES ('hello', 2)", 'SQL/Post/insert'],
    ['UPDATE users SET name = ? WHERE id = ?', 'SQL/User/update'],
    ['DELETE FROM sessions WHERE expires < now()', 'SQL/Session/delete'],
    ['BEGIN', 'SQL/begin'],
    ['COMMIT', 'SQL/commit'],
    ['ROLLBACK', 'SQL/rollback'],
    ['SELECT 1', 'SQL/select'],
    ['select * from public.categories', 'SQL/Category/select'],
    ['SELECT * FROM `addresses` WHERE zip = 12345', 'SQL/Address/select'],
    ['REPLACE INTO boxes (a) VALUES (1)', 'SQL/Box/insert'],
    ['this is not sql at all', 'SQL/Query'],
    ['', 'SQL/Query'],
  ])('%s -> %s', (sql, name) => {
    expect(sqlName(sql).name).toBe(name);
  });

  test('tokenizer fallback handles dialects the parser rejects', () => {
    // Vendor syntax the parser does not know still gets a name.
    expect(sqlName('SELECT TOP 5 * FROM [dbo].[Invoices] WITH (NOLOCK) WHERE a = @p1').name).toBe('SQL/Invoice/select');
    expect(tokenizeSql('insert into audit_logs values (?)').name).toBe('SQL/AuditLog/insert');
    expect(tokenizeSql('update only people set a = ?').name).toBe('SQL/People/update'); // no irregular plurals
    expect(tokenizeSql('WITH x AS (select ?) DELETE FROM jobs WHERE id IN (select id from x)').name).toBe('SQL/Job/delete');
  });

  test('never throws on huge or odd input', () => {
    expect(sqlName('SELECT ' + 'a,'.repeat(20000) + 'b FROM t').name).toMatch(/^SQL\//);
    expect(sqlName('\u0000\uffff(((((').name).toBe('SQL/Query');
  });
});

describe('scrubSql', () => {
  test('replaces literals and collapses IN lists and whitespace', () => {
    expect(scrubSql("SELECT * FROM users WHERE name = 'O''Brien' AND id IN (1, 2,3)\n  AND x = $2 AND y = 1.5e3")).toBe(
      'SELECT * FROM users WHERE name = ? AND id IN (?) AND x = ? AND y = ?',
    );
    expect(scrubSql('INSERT INTO t2 (a, b) VALUES (1, 2), (3, 4)')).toBe('INSERT INTO t2 (a, b) VALUES (?, ?)');
    expect(scrubSql("select e'a\\'b' from t")).toBe('select ? from t');
    expect(scrubSql('select col1 from table2')).toBe('select col1 from table2');
  });
  test('classify', () => {
    expect(classify('users')).toBe('User');
    expect(classify('order_items')).toBe('OrderItem');
    expect(classify('"public"."categories"')).toBe('Category');
    expect(classify('status')).toBe('Status');
    expect(classify('boxes')).toBe('Box');
  });
});
