// Preloaded with `node --import` into a benchmarked child: writes the process's peak RSS (KiB) to
// BENCH_MAXRSS_FILE when it exits, however it exits. Portable where /usr/bin/time -v is not installed.
import {writeFileSync} from 'node:fs'

const file = process.env.BENCH_MAXRSS_FILE
if (file) process.on('exit', () => writeFileSync(file, String(process.resourceUsage().maxRSS)))
