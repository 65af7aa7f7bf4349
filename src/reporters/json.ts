import type {Reporter} from './types.js'

/** The stable machine contract: schemas/report.schema.json describes it. */
export const renderJson: Reporter = (report) => `${JSON.stringify(report, null, 2)}\n`
