import type {BaselineChange, DiagnosisEntry, Finding, NotReadEntry, Remedy, Report, Severity} from '../core/types.js'
import {percent} from '../core/numbers.js'
import {fleetLine, groupLabel, type FleetFinding, type FleetSummary} from '../core/fleet.js'

/** The terminal's width: the caller's, else the terminal's, else $COLUMNS, else 120 (a file or a pipe); at least 40. */
export function terminalWidth(width?: number): number {
  return Math.max(40, Math.floor(width ?? (process.stdout.columns || Number(process.env.COLUMNS) || 120)))
}

export const SEVERITY_ORDER: Severity[] = ['critical', 'warning', 'info']

export function gateLine(report: Report): string {
  const {gate, summary} = report
  const known = gate.baseline ? `; ${gate.baseline.failing} new or worse, ${gate.baseline.ignored} known in baseline ${gate.baseline.file} ignored` : ''
  const counts = `${summary.critical} critical, ${summary.warning} warning, ${summary.info} info${known}`
  if (!gate.passed) return `gate failed (--fail-on ${gate.failOn}): ${counts}`
  if (gate.incomplete) return `${incompleteText(report)}; ${counts}`
  return `gate passed (--fail-on ${gate.failOn}): ${counts}`
}

/**
 * With check --baseline: how a finding compares with the baseline (undefined without a baseline, or from a report
 * made before the gate recorded it per finding).
 */
export function baselineChange(report: Report, findingId: string): BaselineChange | undefined {
  return report.gate.baseline?.changes?.[findingId]
}

/** A finding the baseline already had at the same severity or worse: the gate ignored it. */
export function knownInBaseline(report: Report, findingId: string): boolean {
  const change = baselineChange(report, findingId)
  return change === 'unchanged' || change === 'better'
}

/** "audit incomplete: target rabbit not read, 1 probe failed (see Not read)": what an incomplete audit is missing. */
export function incompleteText(report: Report): string {
  const unread = report.targets.filter((t) => t.status !== 'ok').map((t) => t.name)
  const failed = report.skipped.filter((s) => s.status === 'error').length
  const parts = []
  if (unread.length) parts.push(`${unread.length === 1 ? 'target' : 'targets'} ${unread.join(', ')} not read`)
  if (failed) parts.push(`${failed} ${failed === 1 ? 'probe or advisor' : 'probes or advisors'} failed`)
  return `audit incomplete: ${parts.join(', ') || 'some targets or probes could not be read'} (see Not read)`
}

/**
 * What a report says when nothing fired. Never "every rule is inside its target band" about an audit that could not
 * read everything: an incomplete audit, or one whose probes or advisors had to leave input out, says so instead.
 */
export function noFindingsLine(report: Report): string {
  if (report.gate.incomplete) return `No findings in what was read, but the audit is incomplete: ${incompleteText(report).replace(/^audit incomplete: /, '')}.`
  const gaps = report.notRead?.length ?? 0
  if (gaps > 0) return `No findings in what was read; ${gaps} ${gaps === 1 ? 'input was' : 'inputs were'} read only in part (see Not read).`
  return 'No findings: every rule is inside its target band.'
}

/** "statement texts: 12 of 15 not read: other users' statements show '<insufficient privilege>'". */
export function gapText(entry: NotReadEntry): string {
  const count = typeof entry.missing === 'number' ? ` ${entry.missing}${typeof entry.of === 'number' ? ` of ${entry.of}` : ''} not read:` : ''
  return `${entry.what}:${count} ${entry.reason}`
}

/**
 * The part of a finding's threshold its message does not already say: a band the message states (its number and
 * unit, however spaced) is left out, and so is an action threshold of zero ("act >= 0B": any value at all is a
 * finding, so it says nothing). Empty when nothing is left.
 */
export function thresholdNote(finding: Finding): string {
  const said = finding.message.replace(/\s+/g, '').toLowerCase()
  const stated = (band: string) => {
    const bare = band.replace(/^[<>=!]+/, '').replace(/\s+/g, '').toLowerCase()
    return said.includes(band.replace(/\s+/g, '').toLowerCase()) || (bare !== '' && said.includes(bare))
  }
  const zero = (band: string) => /^[<>]=?\s*0(\.0+)?\s*[a-z%]*$/i.test(band.trim())
  const parts = []
  if (finding.threshold.target && !stated(finding.threshold.target)) parts.push(`target ${finding.threshold.target}`)
  if (finding.threshold.action && !stated(finding.threshold.action) && !zero(finding.threshold.action)) parts.push(`act ${finding.threshold.action}`)
  return parts.join(', ')
}

/** The threshold a finding was judged against, as a person reads it. */
export function thresholdText(finding: Finding): string {
  const parts = []
  if (finding.threshold.target) parts.push(`target ${finding.threshold.target}`)
  if (finding.threshold.action) parts.push(`act ${finding.threshold.action}`)
  return parts.join(', ')
}

export function remedyCode(remedy: {sql?: string; command?: string}): string | undefined {
  return remedy.sql ?? remedy.command
}

/** "123 checks of 41 rules: 118 ok, 3 warning, 1 critical, 1 not evaluated (+40 passing not listed)". */
export function checksLine(report: Report): string {
  const checks = report.checks ?? []
  const counts = new Map<string, number>()
  for (const c of checks) counts.set(c.status, (counts.get(c.status) ?? 0) + 1)
  const omitted = (report.checksOmitted ?? []).reduce((sum, o) => sum + o.ok, 0)
  const order = ['ok', 'info', 'warning', 'critical', 'not-evaluated'] as const
  const parts = order.filter((s) => counts.get(s)).map((s) => `${counts.get(s)} ${s === 'not-evaluated' ? 'not evaluated' : s}`)
  const rules = new Set(checks.map((c) => c.rule)).size
  return `${checks.length + omitted} checks of ${rules} rules: ${parts.join(', ') || 'none'}${omitted ? ` (+${omitted} passing not listed)` : ''}`
}

/** A finding as the human reports list it: causes first, each followed by the findings it explains, indented. */
export interface DisplayedFinding {
  finding: Finding
  /** 0 for a finding on its own or a root cause; 1 and more for the findings a cause explains. */
  depth: number
  /** 1-based number in the display order: the [n] the remedies refer to. */
  number: number
}

/**
 * The display order: the diagnosis' causes by rank, then every other finding that has no cause (in the report's
 * order), each followed by the findings it explains (depth first). A causeId that names no finding of the report
 * is ignored (the finding stands on its own), and nothing is listed twice.
 */
export function displayOrder(report: Report): DisplayedFinding[] {
  const byId = new Map(report.findings.map((f) => [f.id, f]))
  const children = new Map<string, Finding[]>()
  for (const f of report.findings) {
    if (f.causeId && byId.has(f.causeId) && f.causeId !== f.id) children.set(f.causeId, [...(children.get(f.causeId) ?? []), f])
  }
  const ranked = (report.diagnosis ?? []).map((d) => byId.get(d.cause)).filter((f): f is Finding => f !== undefined)
  const roots = [...ranked, ...report.findings.filter((f) => !f.causeId || !byId.has(f.causeId) || f.causeId === f.id)]
  const out: DisplayedFinding[] = []
  const seen = new Set<string>()
  const visit = (f: Finding, depth: number) => {
    if (seen.has(f.id)) return
    seen.add(f.id)
    out.push({finding: f, depth, number: out.length + 1})
    for (const child of children.get(f.id) ?? []) visit(child, depth + 1)
  }
  for (const root of roots) visit(root, 0)
  // A loop of causeIds (only in a hand-edited file) has no root: list what is left on its own.
  for (const f of report.findings) visit(f, 0)
  return out
}

/** "62.0% of database time" / "1500 of 1520 waiting jobs" / "not measured". */
/** The path verdict as two lines of text: the path with what decided it, and what would change it. */
export function pathVerdictText(report: Report, nameOf: (target: string) => string = (t) => t): {headline: string; because: string; wouldChange: string} | undefined {
  const v = report.verdict
  if (!v) return undefined
  const where = [v.target === undefined || v.target === null ? undefined : nameOf(v.target), v.share === null ? undefined : `${percent(v.share)} of statement time`].filter(Boolean)
  return {headline: `Scaling path: ${v.headline}${where.length ? ` (${where.join(', ')})` : ''}`, because: v.decidedBy, wouldChange: v.wouldChange}
}

export function shareText(entry: DiagnosisEntry): string {
  if (entry.share === null) return 'share not measured'
  const what = entry.weight.basis === 'database-time' ? 'of database time' : entry.weight.basis === 'queue-wait' ? 'of queue wait' : 'of its measure'
  return `${(entry.share * 100).toFixed(1)}% ${what}`
}

/** Where each remedy id is first shown: the finding number and the remedy, for "see [n]" references. */
export function remedyIndex(order: DisplayedFinding[]): Map<string, {number: number; remedy: Remedy}> {
  const index = new Map<string, {number: number; remedy: Remedy}>()
  for (const d of order) for (const r of d.finding.remedies) if (!index.has(r.id)) index.set(r.id, {number: d.number, remedy: r})
  return index
}

// eslint-disable-next-line no-control-regex
const ANSI_PATTERN = /\u001b\[[0-9;]*[A-Za-z]/g

export function stripAnsi(text: string): string {
  return text.replace(ANSI_PATTERN, '')
}

/** East Asian wide and fullwidth characters, and emoji: two terminal columns each. */
function isWide(code: number): boolean {
  return (code >= 0x1100 && code <= 0x115f) || (code >= 0x2e80 && code <= 0xa4cf) || (code >= 0xac00 && code <= 0xd7a3)
    || (code >= 0xf900 && code <= 0xfaff) || (code >= 0xfe30 && code <= 0xfe4f) || (code >= 0xff00 && code <= 0xff60)
    || (code >= 0xffe0 && code <= 0xffe6) || (code >= 0x1f300 && code <= 0x1faff) || (code >= 0x20000 && code <= 0x3fffd)
}

/** Combining marks, zero-width joiners and variation selectors: no column of their own. */
function isZeroWidth(code: number): boolean {
  return (code >= 0x300 && code <= 0x36f) || code === 0x200b || code === 0x200c || code === 0x200d || (code >= 0xfe00 && code <= 0xfe0f)
}

/** The columns a line takes on a terminal, colour codes not counted. */
export function displayWidth(text: string): number {
  let width = 0
  for (const ch of stripAnsi(text)) {
    const code = ch.codePointAt(0)!
    if (code < 0x20 || isZeroWidth(code)) continue
    width += isWide(code) ? 2 : 1
  }
  return width
}

/**
 * Plain text wrapped to `width` columns at spaces, a word longer than a line (a SQL statement, a URL) cut where it
 * must; lines after the first start with `indent`. Newlines in the text start new lines (indented too).
 */
export function wrapText(text: string, width: number, indent = ''): string[] {
  const out: string[] = []
  const room = Math.max(10, width)
  for (const [i, paragraph] of text.split('\n').entries()) {
    const leading = /^ */.exec(paragraph)![0]
    let line = `${i === 0 ? '' : indent}${leading}`
    let lineHasWord = false
    const flush = () => {
      out.push(line.replace(/\s+$/, ''))
      line = indent
      lineHasWord = false
    }
    for (const word of paragraph.split(/ +/)) {
      if (word === '') continue
      const sep = lineHasWord ? ' ' : ''
      if (displayWidth(line + sep + word) <= room) {
        line += sep + word
        lineHasWord = true
        continue
      }
      if (lineHasWord) flush()
      let rest = word
      // Hard-cut a word that does not fit on a line of its own.
      while (displayWidth(line + rest) > room) {
        let cut = ''
        for (const ch of rest) {
          if (displayWidth(line + cut + ch) > room) break
          cut += ch
        }
        if (cut === '') cut = [...rest][0]
        line += cut
        rest = rest.slice(cut.length)
        flush()
      }
      line += rest
      lineHasWord = rest.length > 0
    }
    out.push(line.replace(/\s+$/, ''))
  }
  return out
}

/** Target names longer than this are shortened in the terminal table (the full name is listed with the targets). */
export const MAX_TARGET_NAME = 20

/**
 * The name each target goes by in the terminal table, the same everywhere in it: short names as they are; a long
 * one (a default name such as postgres:db.internal.example.com:5432/shop) kept at both ends with an ellipsis in the
 * middle, which keeps the kind and the database; `<kind>#<n>` should two shortened names meet.
 */
export function shortTargetNames(names: string[]): Map<string, string> {
  const out = new Map<string, string>()
  const used = new Set(names.filter((n) => [...n].length <= MAX_TARGET_NAME))
  for (const name of names) {
    const chars = [...name]
    if (chars.length <= MAX_TARGET_NAME) {
      out.set(name, name)
      continue
    }
    const head = Math.ceil((MAX_TARGET_NAME - 1) / 2)
    const tail = MAX_TARGET_NAME - 1 - head
    let short = `${chars.slice(0, head).join('')}…${chars.slice(chars.length - tail).join('')}`
    if (used.has(short)) {
      const kind = name.split(':')[0] || 'target'
      let n = 1
      while (used.has(`${kind}#${n}`)) n++
      short = `${kind}#${n}`
    }
    used.add(short)
    out.set(name, short)
  }
  return out
}

/**
 * SQL or a shell command wrapped to `width` columns so that a paste still runs the same: lines break only at a space
 * outside quotes ('…', "…", and for SQL a -- comment is kept whole); a shell command's breaks end in ` \`. A
 * quoted word longer than a line stays whole (the one case a line may be wider: cutting it would change it).
 */
export function wrapCode(code: string, width: number, indent: string, shell: boolean): string[] {
  const out: string[] = []
  for (const source of code.split('\n')) {
    const tokens: string[] = []
    let current = ''
    let quote: string | null = null
    for (let i = 0; i < source.length; i++) {
      const ch = source[i]
      if (quote) {
        current += ch
        if (shell && quote === '"' && ch === '\\' && i + 1 < source.length) current += source[++i]
        else if (ch === quote) quote = null
        continue
      }
      if (!shell && ch === '-' && source[i + 1] === '-') {
        current += source.slice(i)
        break
      }
      if (shell && ch === '\\' && i + 1 < source.length) {
        current += ch + source[++i]
        continue
      }
      if (ch === "'" || ch === '"') quote = ch
      if (ch === ' ') {
        if (current) tokens.push(current)
        current = ''
        continue
      }
      current += ch
    }
    if (current) tokens.push(current)
    const room = Math.max(10, width - indent.length - (shell ? 2 : 0))
    let line = ''
    const lines: string[] = []
    for (const token of tokens) {
      if (line && displayWidth(`${line} ${token}`) > room) {
        lines.push(line)
        line = token
      } else {
        line = line ? `${line} ${token}` : token
      }
    }
    lines.push(line)
    out.push(...lines.map((l, i) => `${indent}${l}${shell && i < lines.length - 1 ? ' \\' : ''}`))
  }
  return out
}

/** How many skipped targets a fleet summary names per group before "and N more". */
const FLEET_SKIPPED_SHOWN = 10

/**
 * The fleet summary as text, the same in every format: the fleet's line, then per group its line, its worst findings
 * and its targets not read. A fleet of one unnamed group (no `group:` in the config) is one line and its findings.
 */
export function fleetText(fleet: FleetSummary): {line: string; groups: Array<{label: string; line: string; worst: FleetFinding[]; skipped?: string}>} {
  const single = fleet.groups.length === 1 && fleet.groups[0].group === null
  const groups = fleet.groups.map((g) => {
    const found = (['critical', 'warning', 'info'] as const).filter((s) => g.findings[s] > 0).map((s) => `${g.findings[s]} ${s}`)
    const names = g.skippedTargets
    const skipped = names.length === 0 ? undefined
      : `not read: ${names.slice(0, FLEET_SKIPPED_SHOWN).join(', ')}${names.length > FLEET_SKIPPED_SHOWN ? ` and ${names.length - FLEET_SKIPPED_SHOWN} more` : ''}`
    const label = single ? '' : groupLabel(g.group)
    return {label, line: `${label ? `${label}: ` : ''}${fleetLine(g)}; ${found.length ? found.join(', ') : 'no findings'}`, worst: g.worst, ...(skipped ? {skipped} : {})}
  })
  if (single) return {line: groups[0].line, groups: [{...groups[0], line: ''}]}
  return {line: fleetLine(fleet), groups}
}

/** A worst finding of a fleet group, as one line: `critical replication/lag replica-1 (pg-3): message`. */
export function fleetFindingText(f: FleetFinding): string {
  return `${f.severity} ${f.rule} ${f.subject} (${f.target}): ${f.message}`
}
