// The peer of `make bench` (issue #23): what the usual alternative to Yizhan — a Node.js
// service with fastify and node-postgres — does with the same request.  GET
// /api/v1/results/{id} runs the very statement Yizhan runs (RESULT.st_get of
// server/api/market.c, as the bench captured it from the server's log: PEER_SQL_JSON) with
// the parameters Yizhan sent for an anonymous viewer, and sends the JSON text PostgreSQL
// built as it is, with the ETag of its version; an id that is not a positive integer or
// not a published result answers a problem+json 400 / 404, as Yizhan does.  /livez answers
// {"status":"ok"}.  One process, one event loop, as Yizhan runs on this machine.
//
// Environment: PEER_LISTEN (host:port), PEER_SQL_JSON (bench/lib/stmts.py's result_get.json),
// PEER_DB_CONNS (the pool's size, default 10: node-postgres's own default), and libpq's
// PGHOST (a socket directory), PGPORT, PGUSER, PGDATABASE; the session runs as role
// yizhan_app in UTC, as Yizhan's does.
import { readFileSync } from 'node:fs';
import Fastify from 'fastify';
import pg from 'pg';

const [host, port] = (process.env.PEER_LISTEN || '127.0.0.1:8099').split(/:(?=\d+$)/);
const spec = JSON.parse(readFileSync(process.env.PEER_SQL_JSON, 'utf8'));
const st = spec.statements[0];
const captured = spec.scripts[0].params[0]; // {"1": id, "2": org, "3": staff} as Yizhan sent them
const org = captured['2'] ?? null;
const staff = captured['3'] ?? 'false';

const pool = new pg.Pool({
  max: Number(process.env.PEER_DB_CONNS || 10),
  options: '-c role=yizhan_app -c TimeZone=UTC',
});
const query = { name: 'result_get', text: st.sql, values: null, rowMode: 'array' };

const app = Fastify({ logger: false, disableRequestLogging: true });

function problem(reply, status, title, detail) {
  return reply.code(status).type('application/problem+json')
    .send(JSON.stringify({ type: 'about:blank', title, status, detail }));
}

app.get('/livez', async (_req, reply) => reply.type('application/json').send('{"status":"ok"}'));

app.get('/api/v1/results/:id', async (req, reply) => {
  const id = req.params.id;
  if (!/^[1-9][0-9]{0,17}$/.test(id)) return problem(reply, 400, 'bad request', 'id must be a positive integer');
  const r = await pool.query({ ...query, values: [id, org, staff] });
  if (r.rows.length === 0 || r.rows[0][0] === null) return problem(reply, 404, 'not found', 'no such result');
  const json = r.rows[0][0];
  const v = /"version":\s?(\d+)/.exec(json);
  if (v) reply.header('ETag', `"${v[1]}"`);
  return reply.type('application/json').send(json);
});

await app.listen({ host, port: Number(port) });
process.on('SIGTERM', () => app.close().then(() => pool.end()).then(() => process.exit(0)));
