// Preloaded with `node --expose-gc --import` into the benchmarked watch processes: SIGUSR2 runs a full garbage
// collection, so that the heap sampled right after holds only what is still referenced. Without it heap used climbs
// between V8's rare major collections whether or not anything leaks, and ten samples cannot tell the two apart.
process.on('SIGUSR2', () => globalThis.gc?.({type: 'major'}))
