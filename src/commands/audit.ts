import {Flags} from '@oclif/core'
import {BaseCommand} from '../cli/base.js'
import {advisorFlags, evaluationFlags, progressFlags, outputFlags, targetFlags, fleetFlags} from '../cli/flags.js'

export default class Audit extends BaseCommand {
  static override summary = 'Probe the configured stack, evaluate the rules and advisors, and print a report.'
  static override description = `Reads the stack's own statistics (read-only, bounded), compares them with the threshold rules and runs the advisors.

Exit codes: 0 passed; 1 a finding at or above --fail-on; 2 usage, config or internal error; 3 the audit was incomplete (a target or probe could not be read) and nothing failed the gate.`
  static override examples = [
    '<%= config.bin %> <%= command.id %> --pg postgres://app@db:5432/shop --redis redis://cache:6379',
    '<%= config.bin %> <%= command.id %> --window 30s --format markdown -o report.md',
    '<%= config.bin %> <%= command.id %> --format table --format sarif=chokepoint.sarif --format junit=chokepoint.xml',
    '<%= config.bin %> <%= command.id %> --from-snapshot snap.json --format json',
  ]
  static override flags = {
    ...targetFlags,
    ...fleetFlags,
    ...evaluationFlags,
    ...outputFlags,
    ...advisorFlags,
    ...progressFlags,
    'from-snapshot': Flags.string({summary: 'Analyse a snapshot written by `chokepoint capture` instead of probing.'}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Audit)
    const {auditAndRender} = await import('../cli/run.js')
    await auditAndRender(flags, 'table', await this.tracedContext())
  }
}
