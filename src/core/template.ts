import {lookupPath} from './lookup.js'
import {shellWord} from './shell.js'
import {quoteIdent, quoteLiteral, requoteQualified} from './sql.js'
import {formatBytes, formatValue, shortText, type Unit} from './units.js'

/**
 * Message and remedy templates in rule files: {{value}}, {{subject}}, {{target}}, {{threshold.target}},
 * {{evidence.someField}}, {{lookback}} (what the value covers: "over 5 min"), with optional filters {{evidence.sizeBytes|bytes}}, |seconds, |ms (a duration given in
 * milliseconds), |percent, |count, and |short (a text on one line, shortened for a message: a statement's SQL).
 * A field that is exactly one placeholder keeps the raw value's type (arrays, numbers) for structured remedies.
 *
 * Remedies are pasted into psql or a shell, so a name from the audited system never goes into `sql` or `command`
 * bare: the quoting filters make it one token whatever it holds.
 *   |ident      one SQL identifier, double-quoted (a role, a slot, a column)
 *   |qualified  a qualified name as PostgreSQL prints it (quote_ident parts joined by dots, as the probes select
 *               table names), re-quoted part by part; refused when the text is not such a name
 *   |literal    a SQL string literal
 *   |shell      one POSIX shell word
 *   |int        an integer (a pid), refused when the value is anything else
 * A value these filters cannot make safe (missing, or of the wrong shape) makes the whole field drop out of the
 * remedy rather than print something that runs differently than it reads.
 */
export interface TemplateScope {
  value: number | null
  unit?: Unit
  subject: string
  target: string
  threshold: {target: string | null; action: string | null}
  evidence: Record<string, unknown>
  /** What the value covers ("over 5 min"), for rules with a lookback: see lookbackText in engine.ts. */
  lookback?: string
}

const PLACEHOLDER = /\{\{\s*([\w.]+)\s*(?:\|\s*(\w+)\s*)?\}\}/g
const SOLE_PLACEHOLDER = /^\{\{\s*([\w.]+)\s*\}\}$/

function lookup(scope: TemplateScope, path: string): unknown {
  return lookupPath(scope, path)
}

/** A value a quoting filter cannot turn into one safe token: the field that asked for it is left out. */
export class UnsafeTemplateValue extends Error {}

const QUOTING: Record<string, (text: string) => string> = {
  ident: quoteIdent,
  qualified: requoteQualified,
  literal: quoteLiteral,
  shell: shellWord,
}

function quoted(raw: unknown, filter: string, path: string): string {
  if (filter === 'int') {
    const n = typeof raw === 'string' && /^-?\d+$/.test(raw) ? Number(raw) : raw
    if (typeof n !== 'number' || !Number.isSafeInteger(n)) throw new UnsafeTemplateValue(`${path} is not an integer: ${JSON.stringify(raw)}`)
    return String(n)
  }
  if ((typeof raw !== 'string' && typeof raw !== 'number') || (typeof raw === 'number' && !Number.isFinite(raw))) {
    throw new UnsafeTemplateValue(`${path} cannot be quoted with |${filter}: ${JSON.stringify(raw) ?? 'missing'}`)
  }
  const text = String(raw)
  // PostgreSQL rejects NUL in names and literals, and no shell argument can hold one.
  if (text.includes('\u0000')) throw new UnsafeTemplateValue(`${path} contains a NUL character`)
  try {
    return QUOTING[filter](text)
  } catch (error) {
    throw new UnsafeTemplateValue(`${path}: ${(error as Error).message}`)
  }
}

function applyFilter(raw: unknown, filter: string | undefined, scope: TemplateScope, path: string): string {
  if (filter !== undefined && !TEMPLATE_FILTERS.includes(filter)) throw new UnsafeTemplateValue(`unknown template filter |${filter}`)
  if (filter === 'int' || (filter !== undefined && Object.hasOwn(QUOTING, filter))) return quoted(raw, filter, path)
  if (raw === undefined || raw === null) return 'n/a'
  if (filter === 'short') return shortText(typeof raw === 'string' ? raw : String(raw))
  if (typeof raw === 'number') {
    switch (filter) {
      case 'ms': return formatValue(raw / 1000, 'seconds')
      case 'bytes': return formatBytes(raw)
      case 'seconds': return formatValue(raw, 'seconds')
      case 'percent': return formatValue(raw, 'ratio')
      case 'count': return formatValue(raw, 'count')
      default: return path === 'value' ? formatValue(raw, scope.unit) : formatValue(raw, 'count')
    }
  }
  if (Array.isArray(raw)) return raw.join(', ')
  if (typeof raw === 'object') return JSON.stringify(raw)
  return String(raw)
}

/** Every filter a template may name; the rule tests refuse any other, so a typo cannot print a name bare. */
export const TEMPLATE_FILTERS = ['bytes', 'seconds', 'ms', 'percent', 'count', 'short', 'int', ...Object.keys(QUOTING)]

/** The filters a template uses, for the rule tests. */
export function templateFilters(template: string): Array<{path: string; filter?: string}> {
  return [...template.matchAll(PLACEHOLDER)].map((m) => ({path: m[1], ...(m[2] ? {filter: m[2]} : {})}))
}

function renderStrict(template: string, scope: TemplateScope): string {
  return template.replace(PLACEHOLDER, (_m, path: string, filter: string | undefined) =>
    applyFilter(path === 'value' ? scope.value : lookup(scope, path), filter, scope, path))
}

/** Renders prose (a message): a value a quoting filter refuses reads as n/a, like a missing one. */
export function renderTemplate(template: string, scope: TemplateScope): string {
  return template.replace(PLACEHOLDER, (m) => {
    try {
      return renderStrict(m, scope)
    } catch (error) {
      if (error instanceof UnsafeTemplateValue) return 'n/a'
      throw error
    }
  })
}

const OMIT = Symbol('omit')

function renderField(value: unknown, scope: TemplateScope): unknown {
  if (typeof value === 'string') {
    const sole = SOLE_PLACEHOLDER.exec(value)
    if (sole) return sole[1] === 'value' ? scope.value : lookup(scope, sole[1])
    try {
      return renderStrict(value, scope)
    } catch (error) {
      if (error instanceof UnsafeTemplateValue) return OMIT
      throw error
    }
  }
  if (Array.isArray(value)) return value.map((v) => renderField(v, scope)).filter((v) => v !== OMIT)
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, renderField(v, scope)]).filter(([, v]) => v !== OMIT))
  }
  return value
}

/**
 * Renders every string in a remedy template; a string that is a single placeholder yields the raw value. A string
 * whose quoting filter refused its value is left out (see UnsafeTemplateValue).
 */
export function renderStructured(value: unknown, scope: TemplateScope): unknown {
  const rendered = renderField(value, scope)
  return rendered === OMIT ? undefined : rendered
}
