import {Flags} from '@oclif/core'
import {BaseCommand} from '../cli/base.js'
import {outputFlags} from '../cli/flags.js'

export default class Demo extends BaseCommand {
  static override summary = 'Run the whole audit on an embedded demo stack: no database or setup needed.'
  static override description = `Starts a throwaway PostgreSQL (the binaries ship with chokepoint), seeds a small shop with the bottlenecks real applications grow (unindexed foreign keys, an unused and a duplicate index, slow statements, a web tier holding most connections idle, a forgotten open transaction), audits it live and prints the report. When a Redis answers at REDIS_URL (default redis://127.0.0.1:6379), its cache and job queues join the demo under a random key prefix, removed afterwards. When a MySQL or MariaDB answers at MYSQL_URL (default mysql://root@127.0.0.1:3306) and lets the demo create a database, a database of a random name joins with a table without a primary key, a duplicate and a redundant index, dropped afterwards.

The server runs on a free port of 127.0.0.1 with a random password, from a temporary directory that is removed at the end, also on Ctrl-C. As root, it runs as the "postgres" account if present, else "nobody" (or CHOKEPOINT_DEMO_USER).

Progress goes to stderr and the report to stdout, or to the files that --format FORMAT=FILE names (repeatable, as for audit: one demo, several outputs).

Exit codes: 0 the demo ran (the report has critical findings on purpose: that is what it demonstrates); 2 the demo could not run (internal error); 130 interrupted with Ctrl-C.`
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --format json > demo-report.json',
    '<%= config.bin %> <%= command.id %> --format table --format html=demo.html --format sarif=demo.sarif',
    '<%= config.bin %> <%= command.id %> --keep',
  ]
  static override flags = {
    format: outputFlags.format,
    json: outputFlags.json,
    output: outputFlags.output,
    'sarif-anchor': outputFlags['sarif-anchor'],
    color: outputFlags.color,
    keep: Flags.boolean({summary: 'Leave the seeded server running after the report and print its URL and how to stop it.'}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Demo)
    // Imported here, not at the top: `chokepoint --help` must not pay for pg, ioredis and the core.
    const {runDemo} = await import('../demo/run.js')
    const {checkOutputs, parseOutputs, writeOutputs} = await import('../cli/outputs.js')
    const context = await this.tracedContext()
    // The same outputs as audit's, checked before the server starts: a demo is not run to fail on its output file.
    const outputs = parseOutputs(flags, 'table', context.registry.formats())
    checkOutputs(outputs)
    const result = await runDemo({
      context,
      keep: flags.keep,
      progress: (line) => this.progress(line),
      writeReport: (report, snapshot) => writeOutputs(report, outputs, flags, context, {snapshot}),
    })
    if (result.keptMessage) process.stderr.write(`${result.keptMessage}\n`)
  }
}
