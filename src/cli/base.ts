import {Command, Errors} from '@oclif/core'
import {errorMessage, UsageError} from '../core/errors.js'
import {SecretRegistry} from '../core/redact.js'
import {tracingRequested} from '../telemetry/requested.js'
import type {Tracing} from '../telemetry/tracing.js'
import type {CliContext} from './context.js'
import {armExitWatchdog} from './watchdog.js'

/**
 * Every error ends in one line on stderr and an exit code from the contract: 2 for usage, config and internal
 * errors. Stack traces only with DEBUG=chokepoint. Secrets are scrubbed with the run's own registry.
 */
export abstract class BaseCommand extends Command {
  private runContext?: Promise<CliContext>
  private resolved?: CliContext
  private tracing?: Tracing

  /** The run's registry (the built-ins plus every installed or linked chokepoint plugin) and secret registry. */
  protected context(): Promise<CliContext> {
    this.runContext ??= import('./context.js').then(({cliContext}) => cliContext(this.config.getPluginsList())).then((ctx) => {
      this.resolved = ctx
      return ctx
    })
    return this.runContext
  }

  /**
   * The context of a command that audits (audit, check, capture, watch, apply, demo): with OpenTelemetry traces when
   * the OTEL_* environment asks for them (docs/telemetry.md). The SDK is imported only then; finally() flushes it.
   */
  protected async tracedContext(): Promise<CliContext> {
    const ctx = await this.context()
    if (!tracingRequested()) return ctx
    const {startTracing} = await import('../telemetry/tracing.js')
    this.tracing ??= await startTracing({command: this.id ?? 'audit', secrets: ctx.secrets})
    return {...ctx, instrumentation: this.tracing.instrumentation}
  }

  /** Before the context exists (a flag parse error), only URL passwords are masked: no secret is known yet. */
  private scrub(text: string): string {
    return (this.resolved?.secrets ?? new SecretRegistry()).scrub(text)
  }

  protected progress(message: string): void {
    process.stderr.write(`${this.scrub(message)}\n`)
  }

  /** Whatever the command left open (a client that did not close), the process ends a few seconds after it. */
  protected override async finally(error: Error | undefined): Promise<any> {
    // Spans still buffered are sent before the process may exit (watch ends here too, after SIGTERM or SIGINT).
    await this.tracing?.shutdown().catch(() => {})
    armExitWatchdog()
    return super.finally(error)
  }

  protected override async catch(error: Error & {exitCode?: number; oclif?: {exit?: number}}): Promise<any> {
    if (error instanceof Errors.ExitError) throw error
    // A flag that failed to parse leaves `parsed` false, and with NODE_ENV development or test oclif then adds a
    // three-line warning ("did not parse its arguments") to the one-line error.
    this.parsed = true
    const debug = (process.env.DEBUG ?? '').includes('chokepoint')
    const isUsage = error instanceof UsageError || error.oclif?.exit === 2 || error.name?.endsWith('ParseError') || /Expected|Nonexistent flag|Unexpected argument|Missing required flag/.test(error.message ?? '')
    const text = this.scrub(flagParseMessage(errorMessage(error)).replace(/\s+/g, ' ').trim())
    process.stderr.write(`error: ${isUsage ? text : `internal error: ${text} (rerun with DEBUG=chokepoint for details)`}\n`)
    if (debug && error.stack) process.stderr.write(`${this.scrub(error.stack)}\n`)
    process.exitCode = 2
  }
}

/**
 * oclif wraps a flag's parse error as "Parsing --NAME \n\tWHY\nSee more help with --help": one line for us is
 * "--NAME: WHY (see --help)", so the flag and the fix lead the line.
 */
export function flagParseMessage(message: string): string {
  const wrapped = /^Parsing (--[\w-]+) \n\t([\s\S]*)\nSee more help with --help$/.exec(message)
  return wrapped ? `${wrapped[1]}: ${wrapped[2]} (see --help)` : message
}
