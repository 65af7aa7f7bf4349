#!/usr/bin/env node
import {execute, settings} from '@oclif/core'

// chokepoint and its plugins ship compiled JavaScript: never look for TypeScript sources to transpile (a linked
// plugin would otherwise warn on every run that it cannot be auto-transpiled).
settings.enableAutoTranspile = false
await execute({dir: import.meta.url})
