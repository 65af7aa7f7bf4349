import {ConfigError} from './errors.js'
import {parseQuantity, type Unit} from './units.js'

/** A comparison such as "> 500ms", "< 80%", ">= 1", "== 0". */
export interface Comparison {
  op: '<' | '<=' | '>' | '>=' | '==' | '!='
  value: number
  text: string
}

const OPS = ['<=', '>=', '==', '!=', '<', '>'] as const

export function parseComparison(text: string, unit: Unit | undefined, where: string): Comparison {
  const trimmed = String(text).trim()
  const op = OPS.find((candidate) => trimmed.startsWith(candidate))
  if (!op) {
    throw new ConfigError(`${where}: expected a comparison like "> 500ms" or "< 80%", got ${JSON.stringify(text)}`)
  }
  const quantity = parseQuantity(trimmed.slice(op.length))
  if (!quantity) {
    throw new ConfigError(`${where}: ${JSON.stringify(text)} has no number after "${op}" (write e.g. "${op} 0.5", "${op} 200ms", "${op} 80%")`)
  }
  if (quantity.unit && unit && quantity.unit !== unit && !(unit === 'count')) {
    throw new ConfigError(`${where}: ${JSON.stringify(text)} is in ${quantity.unit} but the metric is measured in ${unit}`)
  }
  return {op, value: quantity.value, text: trimmed}
}

export function compare(value: number, c: Comparison): boolean {
  switch (c.op) {
    case '<': return value < c.value
    case '<=': return value <= c.value
    case '>': return value > c.value
    case '>=': return value >= c.value
    case '==': return value === c.value
    case '!=': return value !== c.value
  }
}
