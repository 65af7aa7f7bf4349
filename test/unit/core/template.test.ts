import {describe, expect, it} from 'vitest'
import {renderStructured, renderTemplate, TEMPLATE_FILTERS, templateFilters, type TemplateScope} from '../../../src/core/template.js'

const scope: TemplateScope = {
  value: 0.93, unit: 'ratio', subject: 'max_connections', target: 'primary',
  threshold: {target: '<= 80%', action: '> 90%'},
  evidence: {idle: 71, sizeBytes: 3 * 1024 ** 2, columns: ['a', 'b'], stage: 'replay', lagSeconds: 12},
}

describe('templates', () => {
  it('renders placeholders with units and filters', () => {
    expect(renderTemplate('{{subject}} is {{value}} used ({{threshold.action}})', scope)).toBe('max_connections is 93% used (> 90%)')
    expect(renderTemplate('{{evidence.sizeBytes|bytes}} / {{evidence.lagSeconds|seconds}} / {{evidence.idle|count}}', scope)).toBe('3 MB / 12 s / 71')
    expect(renderTemplate('{{evidence.missing}}', scope)).toBe('n/a')
  })

  it('keeps the raw type when a structured field is a single placeholder', () => {
    expect(renderStructured({columns: '{{evidence.columns}}', n: '{{evidence.idle}}', text: 'stage {{evidence.stage}}'}, scope))
      .toEqual({columns: ['a', 'b'], n: 71, text: 'stage replay'})
  })
})

describe('quoting filters: a name goes into sql or command as one token', () => {
  const hostile: TemplateScope = {
    ...scope,
    evidence: {role: 'app; DROP TABLE victim2; --', table: '"My Schema"."it\'s; x"', plain: 'public.orders', pid: 4242, text: "it's \\ here",
      key: "k'$(id)`x`", pidText: '1); DROP TABLE t; --', nested: {a: 1}},
  }

  it('|ident double-quotes, |literal single-quotes (E\'\' with a backslash), |shell makes one word, |int prints the integer', () => {
    expect(renderTemplate('ALTER ROLE {{evidence.role|ident}}', hostile)).toBe('ALTER ROLE "app; DROP TABLE victim2; --"')
    expect(renderTemplate('{{evidence.text|literal}}', hostile)).toBe("E'it''s \\\\ here'")
    expect(renderTemplate('redis-cli GET {{evidence.key|shell}}', hostile)).toBe(`redis-cli GET 'k'\\''$(id)\`x\`'`)
    expect(renderTemplate('pg_terminate_backend({{evidence.pid|int}})', hostile)).toBe('pg_terminate_backend(4242)')
    expect(renderStructured({n: 'x {{evidence.pid|int}}'}, {...hostile, evidence: {pid: '17'}})).toEqual({n: 'x 17'})
  })

  it('|qualified re-quotes a name as PostgreSQL prints it, part by part', () => {
    expect(renderTemplate('{{evidence.table|qualified}}', hostile)).toBe('"My Schema"."it\'s; x"')
    expect(renderTemplate('{{evidence.plain|qualified}}', hostile)).toBe('"public"."orders"')
    expect(renderTemplate('{{evidence.x|qualified}}', {...hostile, evidence: {x: 'Public.Orders'}})).toBe('"public"."orders"')
  })

  it('leaves a sql field out of the remedy when its value cannot be made safe, and says n/a in prose', () => {
    const remedy = {kind: 'query', summary: 'end {{evidence.pidText}}', sql: 'SELECT pg_terminate_backend({{evidence.pidText|int}})'}
    expect(renderStructured(remedy, hostile)).toEqual({kind: 'query', summary: 'end 1); DROP TABLE t; --'})
    for (const bad of ['public.orders; DROP TABLE x', 'a b', '"unterminated', 'a.b.c.d', '', 'x."" ']) {
      expect(renderStructured({sql: 'VACUUM {{evidence.t|qualified}}'}, {...hostile, evidence: {t: bad}}), bad).toEqual({})
    }
    expect(renderStructured({sql: 'ALTER ROLE {{evidence.missing|ident}}'}, hostile)).toEqual({})
    expect(renderStructured({sql: 'ALTER ROLE {{evidence.nested|ident}}'}, hostile)).toEqual({})
    expect(renderStructured({sql: 'ALTER ROLE {{evidence.x|ident}}'}, {...hostile, evidence: {x: 'a\u0000b'}})).toEqual({})
    expect(renderStructured({sql: 'ALTER ROLE {{evidence.role|idnet}}'}, hostile)).toEqual({})
    expect(renderTemplate('pid {{evidence.pidText|int}}', hostile)).toBe('pid n/a')
  })

  it('|short puts a text on one line and cuts it to 80 characters; |ms reads milliseconds as a duration', () => {
    const scope: TemplateScope = {value: null, subject: 's', target: 't', threshold: {target: null, action: null},
      evidence: {query: 'SELECT a,\n       b FROM t WHERE c = $1', long: `SELECT ${'x, '.repeat(60)}y FROM t`, totalMs: 1500, meanMs: 8.66}}
    expect(renderTemplate('{{evidence.query|short}}', scope)).toBe('SELECT a, b FROM t WHERE c = $1')
    const long = renderTemplate('{{evidence.long|short}}', scope)
    expect(Array.from(long).length).toBeLessThanOrEqual(80)
    expect(long).toMatch(/^SELECT x, x, .*…$/)
    expect(renderTemplate('{{evidence.totalMs|ms}} {{evidence.meanMs|ms}} {{evidence.gone|ms}}', scope)).toBe('1.5 s 8.66 ms n/a')
  })

  it('every filter a template can name is listed', () => {
    expect([...TEMPLATE_FILTERS].sort()).toEqual(['bytes', 'count', 'ident', 'int', 'literal', 'ms', 'percent', 'qualified', 'seconds', 'shell', 'short'])
    expect(templateFilters('a {{evidence.x|ident}} {{value}}')).toEqual([{path: 'evidence.x', filter: 'ident'}, {path: 'value'}])
  })
})
