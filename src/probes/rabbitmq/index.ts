import type {Probe} from '../../core/probe.js'
import type {RabbitSession} from '../../drivers/rabbitmq.js'
import {rabbitmqManagementProbe, rabbitmqQueuesProbe} from './queues.js'

export const rabbitmqProbes: Probe<RabbitSession>[] = [rabbitmqQueuesProbe, rabbitmqManagementProbe]
