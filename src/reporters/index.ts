import {scrubSecrets} from '../core/redact.js'
import type {Report} from '../core/types.js'
import type {RenderOptions, Reporter} from './types.js'

export const REPORT_FORMATS = ['table', 'json', 'markdown'] as const
export type ReportFormat = (typeof REPORT_FORMATS)[number]

const loaders: Record<ReportFormat, () => Promise<Reporter>> = {
  table: async () => (await import('./table.js')).renderTable,
  json: async () => (await import('./json.js')).renderJson,
  markdown: async () => (await import('./markdown.js')).renderMarkdown,
}

/** Renders a report; whatever a reporter produced, registered secrets are scrubbed from it. */
export async function renderReport(report: Report, format: ReportFormat, options: Partial<RenderOptions> = {}): Promise<string> {
  const reporter = await loaders[format]()
  return scrubSecrets(reporter(report, {color: false, verbose: false, ...options}))
}

export type {RenderOptions, Reporter} from './types.js'
