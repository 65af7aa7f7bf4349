import {Flags} from '@oclif/core'
import {BaseCommand} from '../cli/base.js'
import {targetFlags, fleetFlags} from '../cli/flags.js'

export default class Watch extends BaseCommand {
  static override summary = 'Audit every --interval on kept connections and serve the results as Prometheus metrics.'
  static override description = `Serves /metrics (Prometheus text format), /report (the latest report as JSON) and /healthz on --listen. Each audit's collect is the next one's baseline: the interval is the sampling window. A target that goes away is reported chokepoint_up 0 and reconnected with backoff.

SIGTERM or SIGINT stop it (exit 0); SIGHUP reloads the config file. See docs/watch.md for every metric.`
  static override examples = [
    '<%= config.bin %> <%= command.id %> --pg "$DATABASE_URL" --redis redis://cache:6379',
    '<%= config.bin %> <%= command.id %> -c chokepoint.config.yaml --interval 30s --listen 0.0.0.0:9187',
  ]
  static override flags = {
    ...targetFlags,
    ...fleetFlags,
    interval: Flags.string({summary: 'Time between audits, and each audit\'s sampling window (1s to 1h).', default: '60s', env: 'CHOKEPOINT_WATCH_INTERVAL'}),
    listen: Flags.string({summary: 'HOST:PORT to serve /metrics, /report and /healthz on (port 0: any free port, printed on stderr).', default: '127.0.0.1:9187', env: 'CHOKEPOINT_WATCH_LISTEN'}),
    'fail-on': Flags.string({summary: 'Lowest severity that fails the gate in /report.', options: ['critical', 'warning', 'info', 'never'], env: 'CHOKEPOINT_FAIL_ON'}),
    verbose: Flags.boolean({char: 'v', summary: 'Print each target\'s progress on stderr.'}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Watch)
    const {runWatch} = await import('../cli/watch.js')
    await runWatch(flags, await this.tracedContext())
  }
}
