import {Args, Flags} from '@oclif/core'
import {BaseCommand} from '../cli/base.js'
import {evaluationFlags, outputFlags} from '../cli/flags.js'

export default class ReportCommand extends BaseCommand {
  static override summary = 'Render a saved snapshot or JSON report in any format.'
  static override description = 'A snapshot is analysed offline with the current rules and config; a JSON report is re-rendered as it is. The exit code follows the gate, as for audit.'
  static override examples = [
    '<%= config.bin %> <%= command.id %> snap.json --format markdown >> "$GITHUB_STEP_SUMMARY"',
    '<%= config.bin %> <%= command.id %> report.json --format table',
  ]
  static override args = {file: Args.string({required: true, description: 'snapshot (from capture) or report (from audit --format json)'})}
  static override flags = {
    config: Flags.string({char: 'c', summary: 'Config file with rule overrides to apply to a snapshot.', env: 'CHOKEPOINT_CONFIG'}),
    'fail-on': evaluationFlags['fail-on'],
    ...outputFlags,
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(ReportCommand)
    const {renderSaved} = await import('../cli/report.js')
    await renderSaved(args.file, flags, await this.context())
  }
}
