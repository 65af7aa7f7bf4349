import {Args, Flags} from '@oclif/core'
import {BaseCommand} from '../cli/base.js'
import {evaluationFlags, sarifAnchorFlag} from '../cli/flags.js'
import {DIFF_FORMATS} from '../reporters/diff.js'

export default class DiffCommand extends BaseCommand {
  static override summary = 'Compare two runs: new, resolved, worse and better findings, and what changed in the verdict.'
  static override description = `OLD and NEW are JSON reports (audit --format json) or snapshots (capture); a snapshot is analysed with the current rules and config first. Findings are paired by id (a hash of rule, target and subject, stable across runs), else by rule, target and subject. Worse and better mean the severity rose or fell; a value that moved at the same severity is listed with its change.
Exit codes: 0 nothing new or worse at --fail-on (default critical) or above; 1 a new or worse finding at --fail-on or above; 2 usage, config or internal error; 3 NEW is an incomplete audit and nothing failed.`
  static override examples = [
    '<%= config.bin %> <%= command.id %> before.json after.json',
    '<%= config.bin %> <%= command.id %> main-report.json pr-snapshot.json --format markdown >> "$GITHUB_STEP_SUMMARY"',
    '<%= config.bin %> <%= command.id %> before.json after.json --format table --format html=diff.html --format sarif=diff.sarif',
  ]
  static override args = {
    old: Args.string({required: true, description: 'the earlier report or snapshot'}),
    new: Args.string({required: true, description: 'the later report or snapshot'}),
  }
  static override flags = {
    config: Flags.string({char: 'c', summary: 'Config file with rule overrides to apply to snapshots.', env: 'CHOKEPOINT_CONFIG'}),
    'fail-on': evaluationFlags['fail-on'],
    format: Flags.string({char: 'f', multiple: true, summary: `Output format: ${DIFF_FORMATS.join(', ')} (sarif: NEW's results with their baselineState against OLD, resolved ones "absent"); FORMAT=FILE writes it to FILE (repeatable, at most one on stdout).`}),
    json: Flags.boolean({summary: 'Same as --format json.'}),
    output: Flags.string({char: 'o', summary: 'Write the diff to this file instead of stdout (with a single --format).'}),
    'sarif-anchor': sarifAnchorFlag,
    color: Flags.boolean({summary: 'Colour the table (default: on a TTY unless NO_COLOR is set).', allowNo: true}),
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(DiffCommand)
    const {runDiff} = await import('../cli/diff.js')
    await runDiff(args.old, args.new, flags, await this.context())
  }
}
