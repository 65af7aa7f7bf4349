import type {Probe} from '../../core/probe.js'
import type {NatsSession} from '../../drivers/nats.js'
import {natsJetStreamProbe} from './jetstream.js'

export const natsProbes: Probe<NatsSession>[] = [natsJetStreamProbe]
