import {Flags} from '@oclif/core'
import {BUILTIN_FORMATS} from '../builtin.js'
import {BaseCommand} from '../cli/base.js'
import {advisorFlags, evaluationFlags, progressFlags, sarifAnchorFlag, targetFlags, fleetFlags} from '../cli/flags.js'

export default class Check extends BaseCommand {
  static override summary = 'The CI gate: evaluate like audit, print one line per failing finding, exit by --fail-on.'
  static override description = `Exit codes: 0 passed; 1 a finding at or above --fail-on (default critical); 2 usage, config or internal error; 3 the audit was incomplete (a target or probe could not be read) and nothing failed the gate. With --baseline FILE (a report or snapshot of an earlier run) only findings new or worse than in it (severity rose) count towards exit 1; the verdict says how many known findings were ignored.`
  static override examples = [
    '<%= config.bin %> <%= command.id %> --pg "$DATABASE_URL" --fail-on warning',
    '<%= config.bin %> <%= command.id %> --from-snapshot snap.json --format json',
    '<%= config.bin %> <%= command.id %> --pg "$DATABASE_URL" --baseline main-report.json',
    '<%= config.bin %> <%= command.id %> --pg "$DATABASE_URL" --format terse --format sarif=chokepoint.sarif --format junit=chokepoint.xml',
  ]
  static override flags = {
    ...targetFlags,
    ...fleetFlags,
    ...evaluationFlags,
    ...advisorFlags,
    ...progressFlags,
    format: Flags.string({char: 'f', multiple: true, summary: `Output format: terse (default: one line per failing finding), or a report format (${BUILTIN_FORMATS.join(', ')}, or one a plugin adds); FORMAT=FILE writes it to FILE (repeatable: one audit, several outputs, at most one on stdout).`}),
    json: Flags.boolean({summary: 'Same as --format json.'}),
    output: Flags.string({char: 'o', summary: 'Write the output to this file instead of stdout (with a single --format).'}),
    'sarif-anchor': sarifAnchorFlag,
    verbose: Flags.boolean({char: 'v', summary: 'Also print the queries and commands issued per target.'}),
    'from-snapshot': Flags.string({summary: 'Evaluate a snapshot written by `chokepoint capture` instead of probing.'}),
    baseline: Flags.string({summary: 'Fail only on findings new or worse than in this earlier report or snapshot (known ones are counted, not failed).'}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Check)
    const {runCheck} = await import('../cli/check.js')
    await runCheck({...flags, color: false}, await this.tracedContext())
  }
}
