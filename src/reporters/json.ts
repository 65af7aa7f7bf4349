import type {Reporter} from '../core/reporter.js'

/** The stable machine contract: schemas/report.schema.json describes it. */
export const renderJson: Reporter = ({report}) => `${JSON.stringify(report, null, 2)}\n`
