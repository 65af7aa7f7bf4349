/** Errors that end a run with exit code 2 and one line naming the fix. */
export class UsageError extends Error {
  readonly exitCode = 2
  constructor(message: string) {
    super(message)
    this.name = 'UsageError'
  }
}

export class ConfigError extends UsageError {
  constructor(message: string) {
    super(message)
    this.name = 'ConfigError'
  }
}

/** Thrown by a probe that cannot apply here (missing extension, privilege, server version): recorded as "skipped: why". */
export class ProbeSkip extends Error {
  constructor(reason: string) {
    super(reason)
    this.name = 'ProbeSkip'
  }
}

export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message || error.name
  return String(error)
}
