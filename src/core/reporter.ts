import type {RuleInfo} from './checks.js'
import type {Report, Snapshot} from './types.js'

export interface RenderOptions {
  color: boolean
  verbose: boolean
  /** The terminal's width in columns, for reporters that lay text out for one (the table); default its own guess. */
  width?: number
  /** Where the run's files are, for formats that point into the repository (SARIF locations). */
  files?: RunFiles
  /** One line for stderr: what a format had to leave out (SARIF past GitHub's result limit). */
  warn?: (line: string) => void
}

/** The files of a run, as absolute paths; a format makes them relative to `root`. */
export interface RunFiles {
  /** The repository root (the nearest directory up from the working directory with a .git), else the working directory. */
  root: string
  /** The working directory relative paths were given from (a --queries file recorded in a finding's evidence). */
  cwd: string
  /** The config file the run used, if any. */
  config?: string
  /** The file a result with no better location is anchored to (--sarif-anchor). */
  anchor: string
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
