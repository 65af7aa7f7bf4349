// Rewrites the generated parts of README.md from the built code (npm run build first): the target kinds table.
import {readFileSync, writeFileSync} from 'node:fs'
import {BUILTIN_KINDS} from '../dist/builtin.js'
import {KINDS_TABLE_END, KINDS_TABLE_START, kindsTable} from '../dist/cli/kinds-table.js'

const file = new URL('../README.md', import.meta.url)
const text = readFileSync(file, 'utf8')
const start = text.indexOf(KINDS_TABLE_START)
const end = text.indexOf(KINDS_TABLE_END)
if (start < 0 || end < 0) throw new Error('README.md has no target kinds markers')
writeFileSync(file, text.slice(0, start) + kindsTable(BUILTIN_KINDS) + text.slice(end + KINDS_TABLE_END.length))
console.log('README.md: target kinds table written')
