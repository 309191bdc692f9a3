import { runDocket } from './docket.js';
const mode = process.argv[2];
const conns = Number(process.argv[3] ?? 8);
const r = await runDocket({ url: 'postgres://postgres@127.0.0.1:5432/docket_bench', connections: conns, chains: 2000, steps: 5, latencyChains: 20 }, `ab_${mode}_${process.pid}`);
console.log(mode, conns, Math.round(r.stepsPerSec), r.p50Ms, r.p99Ms);
