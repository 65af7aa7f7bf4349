import {execFileSync} from 'node:child_process'
import {describe, expect, it} from 'vitest'
import {shellWord} from '../../../src/core/shell.js'
import {parseQualifiedName, quoteIdent, quoteQualified, requoteQualified} from '../../../src/core/sql.js'
import {HOSTILE_NAMES, forEachHostile, hostileStrings} from '../../helpers/hostile.js'

describe('shellWord', () => {
  it('reaches the program as exactly the one argument it was, through a real sh', () => {
    // One sh process for every case: each word is printed back NUL-separated, so newlines inside a word survive.
    const words = [...HOSTILE_NAMES, ...hostileStrings(300, 3), '', "'", "''", '-e', '*']
    const script = `for w in ${words.map(shellWord).join(' ')}; do printf '%s\\0' "$w"; done`
    const out = execFileSync('sh', ['-c', script], {encoding: 'utf8', cwd: '/'}).split('\u0000').slice(0, -1)
    expect(out).toEqual(words)
  })

  it('refuses NUL, which no argument can carry', () => {
    expect(() => shellWord('a\u0000b')).toThrow(/NUL/)
  })
})

describe('qualified names', () => {
  it('reads back what quoteQualified writes, for any schema and name', () => {
    forEachHostile(300, 5, (name) => {
      expect(parseQualifiedName(quoteIdent(name)), name).toEqual([name])
      expect(parseQualifiedName(quoteQualified(name, `${name}2`)), name).toEqual([name, `${name}2`])
      expect(requoteQualified(quoteQualified(name, 't')), name).toBe(quoteQualified(name, 't'))
    })
  })

  it('folds unquoted parts as the server does and refuses what is not a name', () => {
    expect(parseQualifiedName('Public.orders_2$')).toEqual(['public', 'orders_2$'])
    expect(parseQualifiedName('"a""b".c')).toEqual(['a"b', 'c'])
    expect(parseQualifiedName('db.s.t')).toEqual(['db', 's', 't'])
    for (const bad of ['', '.', 'a.', '.a', 'a..b', 'a b', '1a', '$a', '"a', 'a"', '""', 'a;b', 'a.b.c.d', '"a"b', 'a -- b', 'a\nb']) {
      expect(parseQualifiedName(bad), bad).toBeUndefined()
    }
  })
})
