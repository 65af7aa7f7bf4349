import {Flags} from '@oclif/core'
import {BaseCommand} from '../cli/base.js'
import {advisorFlags, evaluationFlags, targetFlags} from '../cli/flags.js'

export default class Apply extends BaseCommand {
  static override summary = 'Carry out chosen remedies through their appliers: a dry run unless --confirm; verified, journalled, reversible.'
  static override description = `Without --confirm it prints the plan (each change, its applier, its statements, its preflight result) and changes nothing. With --confirm every change is written to a journal (default chokepoint-apply-<time>.json here) before and after it runs, verified, and rolled back if the verification fails (unless --keep-failed). --rollback JOURNAL undoes journalled changes, newest first. Verification of an index or drop-index change watches its statements in pg_stat_statements for 60 s by default (mean time before vs after; --verify-window 0 skips). See docs/apply.md.

Exit codes: 0 every selected change applied and verified (or the dry run is clean); 1 a change was refused, failed or failed its verification (and was rolled back); 2 usage or config error (a remedy id not in the report, a report too old or from other targets or another cluster (system identifier), another apply running on the target); 3 a target could not be reached; 130/143 interrupted, once the applier cleaned up (the journal says "interrupted").`
  static override examples = [
    '<%= config.bin %> <%= command.id %> --pg "$DATABASE_URL" --kind index',
    '<%= config.bin %> <%= command.id %> --from report.json --pg "$DATABASE_URL" --only index-3f2a9c1b0d4e --confirm',
    '<%= config.bin %> <%= command.id %> --rollback chokepoint-apply-2026-01-01T00-00-00-000Z.json --pg "$DATABASE_URL" --confirm',
  ]
  static override flags = {
    ...targetFlags,
    window: evaluationFlags.window,
    ...advisorFlags,
    from: Flags.string({summary: 'A saved JSON report (chokepoint audit --json) to apply; without it a live audit runs first.'}),
    only: Flags.string({summary: 'Only this remedy id (with --rollback: change id); repeatable.', multiple: true}),
    kind: Flags.string({summary: 'Only remedies of this kind (index, drop-index, ttl ...); repeatable.', multiple: true}),
    confirm: Flags.boolean({summary: 'Really apply (or roll back). Without it: a dry run that changes nothing.'}),
    journal: Flags.string({summary: 'The journal to write (default: chokepoint-apply-<time>.json in the current directory); never overwritten.'}),
    'max-lock-wait': Flags.string({summary: 'Longest lock wait a change may take, across its retries (default 30s).'}),
    'verify-window': Flags.string({summary: 'How long verification watches live traffic after a change (0 skips). Default: 60s for index and drop-index when their statements have calls in pg_stat_statements, else 0; 0 for ttl.'}),
    'max-report-age': Flags.string({summary: 'Refuse a --from report older than this (default 24h).'}),
    'keep-failed': Flags.boolean({summary: 'Keep a change that failed its verification instead of rolling it back.'}),
    rollback: Flags.string({summary: 'Roll back the changes of this journal (newest first); a dry run unless --confirm.'}),
    format: Flags.string({char: 'f', summary: 'Output: text or json.', options: ['text', 'json']}),
    json: Flags.boolean({summary: 'Same as --format json.'}),
    verbose: Flags.boolean({char: 'v', summary: 'Also print the audit\'s progress.'}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Apply)
    const {applyCommand} = await import('../cli/apply.js')
    await applyCommand(flags, await this.tracedContext())
  }
}
