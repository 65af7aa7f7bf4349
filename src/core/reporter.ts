import type {RuleInfo} from './checks.js'
import type {Report, Snapshot} from './types.js'

export interface RenderOptions {
  color: boolean
  verbose: boolean
  /** The terminal's width in columns, for reporters that lay text out for one (the table); default its own guess. */
  width?: number
}

/** What a reporter is given: the report, the rules it was judged by, and the snapshot when the caller has it. */
export interface ReporterContext {
  report: Report
  rules: RuleInfo[]
  snapshot?: Snapshot
  options: RenderOptions
}

/**
 * Turns a report into the text (or bytes as text) of one format. It never needs to scrub secrets: the caller
 * scrubs whatever it returns with the audit's secret registry.
 */
export type Reporter = (ctx: ReporterContext) => string | Promise<string>
