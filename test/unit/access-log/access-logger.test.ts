// AccessLog config parsing (file/stdout/stderr typed configs, format errors with paths, not-implemented
// fields) and the file logger writing formatted lines to a temp file on its flush timer and on close().

import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AccessLogSchema, accessLogSpec, FILE_ACCESS_LOG_TYPE, STDOUT_ACCESS_LOG_TYPE } from '../../../proxy/access-log/access-log-schema.ts';
import { createAccessLogger, FILE_FLUSH_INTERVAL_MS } from '../../../proxy/access-log/access-logger.ts';
import { DEFAULT_FORMAT, type FormatContext } from '../../../proxy/access-log/formatter.ts';
import { createLogger } from '../../../proxy/common/logger.ts';
import { parseWith } from '../../../proxy/config/schema-kit.ts';
import { newStreamInfo } from '../../../proxy/http/stream-info.ts';
import { FakeClock } from '../../support/fake-clock.ts';

function parse(input: unknown) {
  return parseWith(AccessLogSchema, input, 'access_log[0]');
}

function ctx(code: number): FormatContext {
  const info = newStreamInfo(Date.UTC(2026, 0, 1), 0);
  info.responseCode = code;
  return { request: { method: 'GET', path: '/x', authority: 'h', scheme: 'http', headers: {} }, response: null, info };
}

describe('AccessLogSchema', () => {
  it('parses a FileAccessLog with text_format_source', () => {
    const r = parse({
      name: 'envoy.access_loggers.file',
      typed_config: { '@type': FILE_ACCESS_LOG_TYPE, path: '/tmp/a.log', log_format: { text_format_source: { inline_string: '%RESPONSE_CODE%\n' } } },
    });
    expect(r.ok).toBe(true);
    if (r.ok) expect(accessLogSpec(r.value)).toEqual({ sink: { kind: 'file', path: '/tmp/a.log' }, format: { kind: 'text', text: '%RESPONSE_CODE%\n' }, omitEmptyValues: false, sortProperties: false });
  });

  it('defaults to Envoy\'s format and accepts the deprecated format / json_format fields', () => {
    const cases: [Record<string, unknown>, unknown][] = [
      [{ path: '/p' }, { kind: 'text', text: DEFAULT_FORMAT }],
      [{ path: '/p', format: '%PROTOCOL%\n' }, { kind: 'text', text: '%PROTOCOL%\n' }],
      [{ path: '/p', json_format: { c: '%RESPONSE_CODE%' } }, { kind: 'json', json: { c: '%RESPONSE_CODE%' } }],
      [{ path: '/p', logFormat: { jsonFormat: { c: '%RESPONSE_CODE%' }, omitEmptyValues: true } }, { kind: 'json', json: { c: '%RESPONSE_CODE%' } }],
    ];
    for (const [cfg, format] of cases) {
      const r = parse({ typed_config: { '@type': FILE_ACCESS_LOG_TYPE, ...cfg } });
      expect(r.ok).toBe(true);
      if (r.ok) expect(accessLogSpec(r.value).format).toEqual(format);
    }
  });

  it('parses stdout with a json log_format', () => {
    const r = parse({ typed_config: { '@type': STDOUT_ACCESS_LOG_TYPE, log_format: { json_format: { code: '%RESPONSE_CODE%' }, omit_empty_values: true } } });
    expect(r.ok).toBe(true);
    if (r.ok) expect(accessLogSpec(r.value)).toEqual({ sink: { kind: 'stdout' }, format: { kind: 'json', json: { code: '%RESPONSE_CODE%' } }, omitEmptyValues: true, sortProperties: false });
  });

  it('reads json_format_options.sort_properties (Istio writes false)', () => {
    for (const sort of [true, false]) {
      const r = parse({ typed_config: { '@type': FILE_ACCESS_LOG_TYPE, path: '/p', log_format: { json_format: { b: '%PROTOCOL%', a: '%RESPONSE_CODE%' }, json_format_options: { sort_properties: sort } } } });
      expect(r.ok).toBe(true);
      if (r.ok) expect(accessLogSpec(r.value).sortProperties).toBe(sort);
    }
  });

  const errors: [string, unknown, { path: string; kind: string; message: RegExp }][] = [
    ['bad operator', { typed_config: { '@type': FILE_ACCESS_LOG_TYPE, path: '/p', log_format: { text_format_source: { inline_string: '%NOPE%' } } } },
      { path: 'access_log[0].typed_config.log_format.text_format_source', kind: 'invalid', message: /unknown command %NOPE%/ }],
    ['bad json operator', { typed_config: { '@type': FILE_ACCESS_LOG_TYPE, path: '/p', log_format: { json_format: { a: '%REQ%' } } } },
      { path: 'access_log[0].typed_config.log_format.json_format', kind: 'invalid', message: /json_format.a: %REQ%: needs a header name/ }],
    ['filter', { filter: { status_code_filter: {} }, typed_config: { '@type': FILE_ACCESS_LOG_TYPE, path: '/p' } },
      { path: 'access_log[0].filter', kind: 'not-implemented', message: /filter/ }],
    ['unknown type', { typed_config: { '@type': 'type.googleapis.com/envoy.extensions.access_loggers.grpc.v3.HttpGrpcAccessLogConfig' } },
      { path: 'access_log[0].typed_config.@type', kind: 'not-implemented', message: /not implemented/ }],
    ['two formats', { typed_config: { '@type': FILE_ACCESS_LOG_TYPE, path: '/p', format: 'x', log_format: { text_format: 'y' } } },
      { path: 'access_log[0].typed_config', kind: 'invalid', message: /at most one of format, json_format, log_format/ }],
    ['unknown field', { typed_config: { '@type': FILE_ACCESS_LOG_TYPE, path: '/p', pathh: 1 } },
      { path: 'access_log[0].typed_config.pathh', kind: 'unknown-field', message: /unknown field "pathh"/ }],
    ['DataSource filename', { typed_config: { '@type': FILE_ACCESS_LOG_TYPE, path: '/p', log_format: { text_format_source: { filename: '/f' } } } },
      { path: 'access_log[0].typed_config.log_format.text_format_source.filename', kind: 'not-implemented', message: /filename/ }],
  ];
  for (const [name, input, expected] of errors) {
    it(`reports ${name} with its path`, () => {
      const r = parse(input);
      expect(r.ok).toBe(false);
      if (!r.ok) {
        expect(r.errors).toContainEqual(expect.objectContaining({ path: expected.path, kind: expected.kind, message: expect.stringMatching(expected.message) }));
      }
    });
  }
});

describe('createAccessLogger (file)', () => {
  function fileLogger(path: string, clock: FakeClock, logFormat: unknown) {
    const r = parse({ typed_config: { '@type': FILE_ACCESS_LOG_TYPE, path, log_format: logFormat } });
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    return createAccessLogger(r.value, { clock });
  }

  it('buffers lines until the flush interval, then appends them', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'nodevoy-al-')), 'access.log');
    const clock = new FakeClock();
    const logger = fileLogger(path, clock, { text_format_source: { inline_string: '%REQ(:METHOD)% %RESPONSE_CODE%\n' } });
    logger.log(ctx(200));
    logger.log(ctx(503));
    expect(clock.pendingTimers()).toBe(1);
    clock.advance(FILE_FLUSH_INTERVAL_MS);
    expect(clock.pendingTimers()).toBe(0);
    logger.log(ctx(404));
    await logger.close();
    expect(readFileSync(path, 'utf8')).toBe('GET 200\nGET 503\nGET 404\n');
  });

  it('writes json_format as one object per line and appends to an existing file', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'nodevoy-al-')), 'access.json');
    const clock = new FakeClock();
    for (const code of [201, 202]) {
      const logger = fileLogger(path, clock, { json_format: { code: '%RESPONSE_CODE%', method: '%REQ(:METHOD)%' } });
      logger.log(ctx(code));
      await logger.close();
    }
    const lines = readFileSync(path, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(lines).toEqual([{ code: 201, method: 'GET' }, { code: 202, method: 'GET' }]);
  });

  it('reports an unwritable path on the `file` logger and still closes', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'nodevoy-al-')), 'missing-dir', 'a.log');
    const errors: string[] = [];
    const r = parse({ typed_config: { '@type': FILE_ACCESS_LOG_TYPE, path, log_format: { text_format: 'x\n' } } });
    if (!r.ok) throw new Error('unexpected');
    const logger = createAccessLogger(r.value, { clock: new FakeClock(), logger: createLogger('info', { sink: (l) => errors.push(l) }) });
    logger.log(ctx(200));
    await logger.close();
    expect(existsSync(path)).toBe(false);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/\[error\]\[file\] access log .*missing-dir\/a\.log: ENOENT/);
  });
});
