import {Command, Errors} from '@oclif/core'
import {errorMessage, UsageError} from '../core/errors.js'
import {scrubSecrets} from '../core/redact.js'

/**
 * Every error ends in one line on stderr and an exit code from the contract: 2 for usage, config and internal
 * errors. Stack traces only with DEBUG=chokepoint.
 */
export abstract class BaseCommand extends Command {
  protected progress(message: string): void {
    process.stderr.write(`${scrubSecrets(message)}\n`)
  }

  protected override async catch(error: Error & {exitCode?: number; oclif?: {exit?: number}}): Promise<any> {
    if (error instanceof Errors.ExitError) throw error
    const debug = (process.env.DEBUG ?? '').includes('chokepoint')
    const isUsage = error instanceof UsageError || error.oclif?.exit === 2 || error.name?.endsWith('ParseError') || /Expected|Nonexistent flag|Unexpected argument|Missing required flag/.test(error.message ?? '')
    const text = scrubSecrets(errorMessage(error).split('\n').filter(Boolean).join(' ').trim())
    process.stderr.write(`error: ${isUsage ? text : `internal error: ${text} (rerun with DEBUG=chokepoint for details)`}\n`)
    if (debug && error.stack) process.stderr.write(`${scrubSecrets(error.stack)}\n`)
    process.exitCode = 2
  }
}
