import {Flags} from '@oclif/core'
import {BaseCommand} from '../../cli/base.js'

export default class RulesList extends BaseCommand {
  static override summary = 'List the active rules with their thresholds, after your config overrides.'
  static override flags = {
    config: Flags.string({char: 'c', summary: 'Config file whose overrides to apply.', env: 'CHOKEPOINT_CONFIG'}),
    target: Flags.string({summary: 'Show the rules as they apply to this target name (per-target overrides).'}),
    json: Flags.boolean({summary: 'Print JSON.'}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(RulesList)
    const {listRules} = await import('../../cli/rules.js')
    process.stdout.write(listRules(flags, await this.context()))
  }
}
