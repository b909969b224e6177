/**
 * The TCP framing of syslog_monitor (sources/monitors/syslog/framing.ts): octet-counted and
 * delimited messages detected per message, split at any byte boundary, oversized and malformed
 * input bounded and reported, Scalyr's delimiter escapes, and `protocols` parsed as Scalyr does.
 */
import { parseDelimiter, SyslogFramer, trimMessage } from '../sources/monitors/syslog/framing.js';
import { checkSyslogMonitor, parseProtocols } from '../sources/monitors/syslog/component.js';

const NL = Buffer.from('\n');
const texts = (bs: Buffer[]) => bs.map((b) => b.toString('utf8'));

function feed(f: SyslogFramer, input: string | Buffer, step?: number) {
  const buf = typeof input === 'string' ? Buffer.from(input) : input;
  const messages: string[] = [];
  const events: Record<string, number> = {};
  const chunks: Buffer[] = [];
  if (!step) chunks.push(buf);
  else for (let i = 0; i < buf.length; i += step) chunks.push(buf.subarray(i, i + step));
  for (const c of chunks) {
    const out = f.push(c);
    messages.push(...texts(out.messages));
    for (const [k, n] of Object.entries(out.events)) events[k] = (events[k] ?? 0) + (n ?? 0);
  }
  return { messages, events };
}

const FRAMED = '<13>1 2026-12-03T12:00:00Z h a - - - two';
const MIXED = '<13>Dec  3 12:00:00 host app[1]: one\n' + `${Buffer.byteLength(FRAMED)} ${FRAMED}` + '<14>three\r\n' + '5 four\n\n' + '<15>five\n';
const EXPECTED = ['<13>Dec  3 12:00:00 host app[1]: one', '<13>1 2026-12-03T12:00:00Z h a - - - two', '<14>three', 'four', '<15>five'];

test('octet-counted and delimited messages, detected per message, trimmed, empty ones skipped', () => {
  expect(feed(new SyslogFramer({ maxMessage: 8192, delimiter: NL }), MIXED)).toEqual({ messages: EXPECTED, events: {} });
});

test.each([1, 2, 3, 7, 13])('the same, received %i bytes at a time', (step) => {
  const f = new SyslogFramer({ maxMessage: 8192, delimiter: NL });
  expect(feed(f, MIXED, step).messages).toEqual(EXPECTED);
  expect(f.pending).toBe(0);
});

test('an octet-counted message may hold newlines (written as received)', () => {
  const msg = '<13>1 - h a - - - line one\nline two';
  expect(feed(new SyslogFramer({ maxMessage: 100, delimiter: NL }), `${Buffer.byteLength(msg)} ${msg}`).messages).toEqual([msg]);
});

test('a delimited message longer than the limit is written in pieces of the limit, nothing lost, and framing goes on', () => {
  const f = new SyslogFramer({ maxMessage: 10, delimiter: NL });
  const r = feed(f, 'abcdefghijklmnopqrstuvwxy\n7 <1>next\nlast\n', 4);
  expect(r.messages).toEqual(['abcdefghij', 'klmnopqrst', 'uvwxy', '<1>next', 'last']);
  expect(r.events).toEqual({ oversized_split: 2 });
});

test('the rest of a split message is never read as an octet count', () => {
  const r = feed(new SyslogFramer({ maxMessage: 5, delimiter: NL }), 'abcde12 xy\n');
  expect(r.messages).toEqual(['abcde', '12 xy']);
});

test('an octet-counted frame longer than the limit: in pieces, and the next frame is found where it starts', () => {
  const big = 'x'.repeat(25);
  const f = new SyslogFramer({ maxMessage: 10, delimiter: NL });
  const r = feed(f, `25 ${big}4 next`, 3);
  expect(r.messages).toEqual(['xxxxxxxxxx', 'xxxxxxxxxx', 'xxxxx', 'next']);
  expect(r.events.oversized_split).toBe(2);
});

test('memory stays bounded: a huge octet count or an endless line never holds more than the limit plus one chunk', () => {
  const f = new SyslogFramer({ maxMessage: 1000, delimiter: NL });
  f.push(Buffer.from('999999999 '));
  let max = 0;
  for (let i = 0; i < 200; i++) {
    f.push(Buffer.alloc(512, 0x61));
    max = Math.max(max, f.pending);
  }
  expect(max).toBeLessThan(1000 + 512);
  const g = new SyslogFramer({ maxMessage: 1000, delimiter: NL });
  for (let i = 0; i < 200; i++) {
    g.push(Buffer.alloc(512, 0x62));
    max = Math.max(max, g.pending);
  }
  expect(max).toBeLessThan(1000 + 512);
});

test('bad octet counts (digits not followed by a space, too many digits) are read as delimited lines and reported', () => {
  const f = new SyslogFramer({ maxMessage: 100, delimiter: NL });
  const r = feed(f, '12abc def\n123456789012 x\n2026-12-03 plain line\n5 <1>ok');
  expect(r.messages).toEqual(['12abc def', '123456789012 x', '2026-12-03 plain line', '<1>ok']);
  expect(r.events).toEqual({ bad_octet_count: 3 });
});

test('binary garbage never throws; the framer keeps working after it', () => {
  const f = new SyslogFramer({ maxMessage: 64, delimiter: NL });
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff), seed);
  for (let i = 0; i < 2000; i++) {
    const b = Buffer.alloc(1 + (rnd() % 200));
    for (let j = 0; j < b.length; j++) b[j] = rnd() & 0xff;
    f.push(b);
    expect(f.pending).toBeLessThanOrEqual(64 + 200);
  }
  f.flush();
  expect(feed(f, '\n<1>after garbage\n').messages).toEqual(['<1>after garbage']);
});

test('raw (tcp_request_parser "raw"): no octet counting', () => {
  expect(feed(new SyslogFramer({ maxMessage: 100, delimiter: NL, octetCounting: false }), '5 abcd\n').messages).toEqual(['5 abcd']);
});

test('a NUL delimiter (tcp_message_delimiter "\\\\000"): messages may hold newlines', () => {
  const f = new SyslogFramer({ maxMessage: 100, delimiter: parseDelimiter('\\000') });
  expect(feed(f, '<1>a\nb\0<2>c\0').messages).toEqual(['<1>a\nb', '<2>c']);
});

test('flush: what an unfinished message holds (an incomplete octet-counted frame without its count)', () => {
  const f = new SyslogFramer({ maxMessage: 100, delimiter: NL });
  f.push(Buffer.from('<1>no newline yet'));
  expect(texts(f.flush().messages)).toEqual(['<1>no newline yet']);
  f.push(Buffer.from('40 <1>short frame'));
  expect(texts(f.flush().messages)).toEqual(['<1>short frame']);
  expect(f.flush().messages).toEqual([]);
});

test('delimiter escapes as Scalyr unescapes them', () => {
  expect(parseDelimiter('\n')).toEqual(Buffer.from('\n'));
  expect(parseDelimiter('\\n')).toEqual(Buffer.from('\n'));
  expect(parseDelimiter('\\000')).toEqual(Buffer.from([0]));
  expect(parseDelimiter('\\r\\n')).toEqual(Buffer.from('\r\n'));
  expect(parseDelimiter('\\x1e')).toEqual(Buffer.from([0x1e]));
  expect(trimMessage(Buffer.from(' \t<1>x \r\n'))).toEqual(Buffer.from('<1>x'));
});

test('protocols as Scalyr builds its server list: default ports, duplicates removed, bad entries refused', () => {
  expect(parseProtocols('tcp')).toEqual([{ protocol: 'tcp', port: 601 }]);
  expect(parseProtocols('tcp:601, udp:514')).toEqual([
    { protocol: 'tcp', port: 601 },
    { protocol: 'udp', port: 514 },
  ]);
  expect(parseProtocols('TCP:5140, udp, tcp:5140, tcp:0')).toEqual([
    { protocol: 'tcp', port: 5140 },
    { protocol: 'udp', port: 514 },
    { protocol: 'tcp', port: 601 },
  ]);
  expect(() => parseProtocols('tls:6514')).toThrow(/unknown value 'tls:6514'/);
  expect(() => parseProtocols('tcp:70000')).toThrow(/1-65535/);
});

test('check: docker mode is refused with the reason and what to use instead; bad protocols and empty delimiters too', () => {
  expect(checkSyslogMonitor({ module: 'syslog_monitor' })).toEqual([]);
  expect(checkSyslogMonitor({ mode: 'docker' })).toEqual([{ key: 'mode', message: expect.stringMatching(/not supported.*containers.*parse_format: "json"/) }]);
  expect(checkSyslogMonitor({ protocols: 'tcp:1, sctp:2' })).toEqual([{ key: 'protocols', message: expect.stringMatching(/unknown value 'sctp:2'/) }]);
  expect(checkSyslogMonitor({ tcp_message_delimiter: '' })).toEqual([{ key: 'tcp_message_delimiter', message: 'must not be empty' }]);
});
