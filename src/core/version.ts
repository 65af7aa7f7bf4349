import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {PACKAGE_ROOT} from './rules.js'

let cached: string | undefined

export function toolVersion(): string {
  cached ??= (JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as {version: string}).version
  return cached
}
