import type {Registry} from './registry.js'
import type {RenderOptions, ReporterContext} from './reporter.js'
import type {Secrets} from './secrets.js'
import type {Report, Snapshot} from './types.js'

export interface RenderContext {
  registry: Registry
  secrets: Secrets
  snapshot?: Snapshot
  options?: Partial<RenderOptions>
}

/** Renders a report in a registered format; whatever the reporter produced is scrubbed of the audit's secrets. */
export async function renderReport(report: Report, format: string, {registry, secrets, snapshot, options}: RenderContext): Promise<string> {
  const reporter = await registry.reporter(format)
  const ctx: ReporterContext = {report, rules: report.rules ?? [], snapshot, options: {color: false, verbose: false, ...options}}
  return secrets.scrub(await reporter(ctx))
}
