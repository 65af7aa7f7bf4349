import {lookupPath as lookup} from './lookup.js'
import {formatBytes, formatValue, type Unit} from './units.js'

/**
 * Message and remedy templates in rule files: {{value}}, {{subject}}, {{target}}, {{threshold.target}},
 * {{evidence.someField}}, with optional filters {{evidence.sizeBytes|bytes}}, |seconds, |percent, |count.
 * A field that is exactly one placeholder keeps the raw value's type (arrays, numbers) for structured remedies.
 */
export interface TemplateScope {
  value: number | null
  unit?: Unit
  subject: string
  target: string
  threshold: {target: string | null; action: string | null}
  evidence: Record<string, unknown>
}

const PLACEHOLDER = /\{\{\s*([\w.]+)\s*(?:\|\s*(\w+)\s*)?\}\}/g
const SOLE_PLACEHOLDER = /^\{\{\s*([\w.]+)\s*\}\}$/

function applyFilter(raw: unknown, filter: string | undefined, scope: TemplateScope, path: string): string {
  if (raw === undefined || raw === null) return 'n/a'
  if (typeof raw === 'number') {
    switch (filter) {
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

export function renderTemplate(template: string, scope: TemplateScope): string {
  return template.replace(PLACEHOLDER, (_m, path: string, filter: string | undefined) =>
    applyFilter(path === 'value' ? scope.value : lookup(scope, path), filter, scope, path))
}

/** Renders every string in a remedy template; a string that is a single placeholder yields the raw value. */
export function renderStructured(value: unknown, scope: TemplateScope): unknown {
  if (typeof value === 'string') {
    const sole = SOLE_PLACEHOLDER.exec(value)
    if (sole) return sole[1] === 'value' ? scope.value : lookup(scope, sole[1])
    return renderTemplate(value, scope)
  }
  if (Array.isArray(value)) return value.map((v) => renderStructured(v, scope))
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, renderStructured(v, scope)]))
  }
  return value
}
