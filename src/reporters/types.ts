import type {Report} from '../core/types.js'

export interface RenderOptions {
  color: boolean
  verbose: boolean
}

/** A reporter turns a Report into the text of one format. It never sees secrets: the registry scrubs its output. */
export type Reporter = (report: Report, options: RenderOptions) => string
