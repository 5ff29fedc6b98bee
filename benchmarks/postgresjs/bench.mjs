// postgres.js (npm `postgres`) in the pool benchmark's closed loop: C async callers over
// a pool of N connections, `select $1::int` (prepared), measured by itself.
//   node bench.mjs URL N C SECONDS  ->  {"qps": ..., "cpu_us": ..., "queries": ...}
import postgres from 'postgres';

const [url, n, c, seconds] = [process.argv[2], +process.argv[3], +process.argv[4], +process.argv[5]];
const sql = postgres(url, { max: n, prepare: true, onnotice: () => {} });
await Promise.all(Array.from({ length: 4 * n }, (_, i) => sql`select ${i}::int as v`));
let queries = 0, errors = 0;
const t0 = performance.now();
const cpu0 = process.cpuUsage();
const until = t0 + seconds * 1000;
await Promise.all(Array.from({ length: c }, async (_, w) => {
  let i = w;
  while (performance.now() < until) {
    const rows = await sql`select ${i}::int as v`;
    if (rows[0].v === i) queries++; else errors++;
    i++;
  }
}));
const elapsed = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
await sql.end();
console.log(JSON.stringify({ qps: queries / elapsed, cpu_us: (cpu.user + cpu.system) / queries, queries, errors }));
process.exit(errors ? 1 : 0);
