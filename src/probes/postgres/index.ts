import type {Probe} from '../../core/probe.js'
import type {PgSession} from '../../drivers/postgres.js'

export const postgresProbes: Probe<PgSession>[] = []
