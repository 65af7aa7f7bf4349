import Table from 'cli-table3'
import {effectiveRules, loadConfigFile} from '../core/config.js'
import {UsageError} from '../core/errors.js'
import {terminalWidth} from '../reporters/format-helpers.js'
import type {EffectiveRule} from '../core/rules.js'
import type {CliContext} from './context.js'

export interface RulesFlags {
  config?: string
  target?: string
  json?: boolean
}

function activeRules(flags: RulesFlags, {registry}: CliContext): EffectiveRule[] {
  const {config} = loadConfigFile(registry, flags.config)
  return effectiveRules(config, flags.target ?? '*', registry.rules())
}

function ruleJson(r: EffectiveRule) {
  return {id: r.id, area: r.area, title: r.title, enabled: r.enabled, evaluator: r.evaluator, metric: r.metric ?? null,
    advisor: r.advisor ?? null, unit: r.unit ?? null, target: r.target, action: r.action, severity: r.severity ?? null,
    when: r.when ?? {}, heuristic: r.heuristic ?? {}, lookback: r.lookback ?? null, sustained: r.sustained ?? false, description: r.description, source: r.source ?? null, docs: r.docs, file: r.file,
    remedies: r.remedies.map((x) => ({kind: x.kind, summary: x.summary})), explains: r.explains ?? []}
}

/** The rules as they apply after the config file's overrides (for one target with --target). */
export function listRules(flags: RulesFlags, ctx: CliContext): string {
  const rules = activeRules(flags, ctx)
  if (flags.json) return `${JSON.stringify(rules.map(ruleJson), null, 2)}\n`
  // The measures column takes what the terminal leaves (as the report's table does), down to a readable minimum.
  const width = terminalWidth()
  const fixed = [34, 12, 14, 14, 5]
  const measures = Math.max(10, width - fixed.reduce((a, b) => a + b, 0) - 7)
  const table = new Table({head: ['rule', 'area', 'measures', 'target', 'action', 'on'], style: {head: [], border: []}, wordWrap: true,
    colWidths: [fixed[0], fixed[1], measures, fixed[2], fixed[3], fixed[4]]})
  for (const r of rules) {
    table.push([r.id, r.area, r.metric ?? `advisor: ${r.advisor}`, r.target ?? '', r.severity ? `${r.action ?? ''} (${r.severity})`.trim() : (r.action ?? ''), r.enabled ? 'yes' : 'off'])
  }
  return `${table.toString()}\n${rules.length} rules; \`chokepoint rules show ID\` explains one.\n`
}

export function showRule(id: string, flags: RulesFlags, ctx: CliContext): string {
  const rules = activeRules(flags, ctx)
  const rule = rules.find((r) => r.id === id)
  if (!rule) {
    const near = rules.filter((r) => r.id.includes(id.split('/').pop() ?? id)).map((r) => r.id)
    throw new UsageError(`no rule "${id}"${near.length ? ` (did you mean ${near.slice(0, 3).join(', ')}?)` : ''}: see \`chokepoint rules list\``)
  }
  if (flags.json) return `${JSON.stringify(ruleJson(rule), null, 2)}\n`
  const lines = [
    `${rule.id}: ${rule.title}${rule.enabled ? '' : ' (off in your config)'}`,
    '',
    rule.description,
    '',
    `area:      ${rule.area}`,
    rule.metric ? `metric:    ${rule.metric}${rule.unit ? ` (${rule.unit})` : ''}` : `raised by: the ${rule.advisor} advisor`,
    rule.target ? `target:    ${rule.target}   (inside: ok)` : undefined,
    rule.action ? `action:    ${rule.action}   (past it: critical; between: warning)` : undefined,
    rule.severity ? `severity:  ${rule.severity} (fixed)` : undefined,
    rule.lookback ? `lookback:  ${rule.lookback}${rule.sustained ? ' (sustained: the action threshold must hold through it)' : ''}` : undefined,
    Object.keys(rule.when ?? {}).length ? `applies when: ${Object.entries(rule.when ?? {}).map(([k, v]) => `${k} ${v}`).join(', ')}` : undefined,
    Object.keys(rule.heuristic ?? {}).length ? `heuristic: ${Object.entries(rule.heuristic ?? {}).map(([k, v]) => `${k} ${v}`).join(', ')}   (override: rules: {${rule.id}: {heuristic: {name: value}}})` : undefined,
    rule.explains?.length ? `explains:  ${rule.explains.map((l) => `${l.rule} (match: ${l.match})`).join(', ')}` : undefined,
    rule.source ? `source:    ${rule.source}` : undefined,
    `file:      ${rule.file}`,
    '',
    rule.docs,
    rule.remedies.length ? `\nRemedies:\n${rule.remedies.map((r) => `  - ${r.kind}${Array.isArray(r.kinds) ? ` (${r.kinds.join(', ')} only)` : ''}: ${r.summary}`).join('\n')}` : undefined,
    '',
    `Override in chokepoint.config.yaml:\n  rules:\n    ${rule.id}: {${rule.target ? `target: "${rule.target}", ` : ''}${rule.action ? `action: "${rule.action}"` : 'severity: warning'}}   # or: off`,
  ]
  return `${lines.filter((l) => l !== undefined).join('\n')}\n`
}
