import {Flags} from '@oclif/core'
import {BaseCommand} from '../cli/base.js'

export default class Demo extends BaseCommand {
  static override summary = 'Run the whole audit on an embedded demo stack: no database or setup needed.'
  static override description = `Starts a throwaway PostgreSQL (the binaries ship with chokepoint), seeds a small shop with the bottlenecks real applications grow (unindexed foreign keys, an unused and a duplicate index, slow statements, a web tier holding most connections idle, a forgotten open transaction), audits it live and prints the report. When a Redis answers at REDIS_URL (default redis://127.0.0.1:6379), its cache and job queues join the demo under a random key prefix, removed afterwards.

The server runs on a free port of 127.0.0.1 with a random password, from a temporary directory that is removed at the end, also on Ctrl-C. As root, it runs as the "postgres" account if present, else "nobody" (or CHOKEPOINT_DEMO_USER).

Progress goes to stderr and the report to stdout.

Exit codes: 0 the demo ran (the report has critical findings on purpose: that is what it demonstrates); 2 the demo could not run (internal error); 130 interrupted with Ctrl-C.`
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --format json > demo-report.json',
    '<%= config.bin %> <%= command.id %> --keep',
  ]
  static override flags = {
    format: Flags.string({char: 'f', summary: 'Report format.', options: ['table', 'json', 'markdown'], default: 'table'}),
    keep: Flags.boolean({summary: 'Leave the seeded server running after the report and print its URL and how to stop it.'}),
    color: Flags.boolean({summary: 'Colour the table report (default: on a TTY unless NO_COLOR is set).', allowNo: true}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Demo)
    // Imported here, not at the top: `chokepoint --help` must not pay for pg, ioredis and the core.
    const {runDemo} = await import('../demo/run.js')
    const color = flags.color ?? (!process.env.NO_COLOR && Boolean(process.stdout.isTTY) && process.env.TERM !== 'dumb')
    const result = await runDemo({
      format: flags.format,
      context: await this.context(),
      color,
      keep: flags.keep,
      progress: (line) => this.progress(line),
      write: (text) => process.stdout.write(text),
    })
    if (result.keptMessage) process.stderr.write(`${result.keptMessage}\n`)
  }
}
