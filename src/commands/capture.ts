import {Flags} from '@oclif/core'
import {BaseCommand} from '../cli/base.js'
import {advisorFlags, evaluationFlags, progressFlags, targetFlags, fleetFlags} from '../cli/flags.js'

export default class Capture extends BaseCommand {
  static override summary = 'Probe only: write a Snapshot of every reading, to analyse later with `audit --from-snapshot`.'
  static override description = 'A snapshot holds the readings, probe errors and plans, with passwords removed: safe to attach to a bug report or an on-call review. Exit 3 when a target could not be probed.'
  static override examples = ['<%= config.bin %> <%= command.id %> --pg "$DATABASE_URL" --window 30s -o snap.json']
  static override flags = {
    ...targetFlags,
    ...fleetFlags,
    window: evaluationFlags.window,
    queries: advisorFlags.queries,
    query: advisorFlags.query,
    'shard-plan': advisorFlags['shard-plan'],
    output: Flags.string({char: 'o', summary: 'Write the snapshot to this file (default: stdout).'}),
    verbose: Flags.boolean({char: 'v', summary: 'Print progress and the commands issued per target to stderr.'}),
    ...progressFlags,
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Capture)
    const {captureToFile} = await import('../cli/capture.js')
    await captureToFile(flags, await this.tracedContext())
  }
}
