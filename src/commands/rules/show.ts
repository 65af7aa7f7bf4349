import {Args, Flags} from '@oclif/core'
import {BaseCommand} from '../../cli/base.js'

export default class RulesShow extends BaseCommand {
  static override summary = 'Explain one rule: what it measures, its thresholds and their source, and its remedies.'
  static override args = {id: Args.string({required: true, description: 'rule id, e.g. replication/lag'})}
  static override flags = {
    config: Flags.string({char: 'c', summary: 'Config file whose overrides to apply.', env: 'CHOKEPOINT_CONFIG'}),
    target: Flags.string({summary: 'Show the rule as it applies to this target name.'}),
    json: Flags.boolean({summary: 'Print JSON.'}),
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(RulesShow)
    const {showRule} = await import('../../cli/rules.js')
    process.stdout.write(showRule(args.id, flags, await this.context()))
  }
}
