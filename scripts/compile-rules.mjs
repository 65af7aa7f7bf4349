// Build step: validate rules/**/*.yaml and bundle them into dist/rules.json (see loadRules in src/core/rules.ts).
import {writeCompiledRules} from '../dist/core/rules.js'

const count = writeCompiledRules()
process.stderr.write(`compiled ${count} rules into dist/rules.json\n`)
