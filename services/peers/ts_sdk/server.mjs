// The benchmark's TypeScript peer: the official MCP TypeScript SDK serving the echo tool and the indexed database
// read `get_customer`, written the way the SDK's own stateless example does it (a new McpServer and a
// StreamableHTTPServerTransport per request, no session id, JSON responses, createMcpExpressApp's DNS-rebinding
// protection on 127.0.0.1). On a multi-core box it runs one worker per core with Node's cluster module, the
// standard way to use every core with Node; WORKERS=1 is the one pinned worker. The pool is `pg`, opened once per
// worker. Not part of the mcpstack servers: a point of comparison only (docs/benchmarks.md).
//
// Env: PORT (required), DATABASE_URL (optional; get_customer fails cleanly without it), WORKERS (default 1),
// KEEPALIVE_TIMEOUT_S (idle keep-alive; default Node's 5 s; the benchmark raises it as for every server).
import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';

import { createMcpExpressApp } from '@modelcontextprotocol/sdk/server/express.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import pg from 'pg';
import * as z from 'zod/v4';

const PORT = Number.parseInt(process.env.PORT ?? '', 10);
const WORKERS = Number.parseInt(process.env.WORKERS ?? '1', 10);
const KEEPALIVE_TIMEOUT_S = Number.parseInt(process.env.KEEPALIVE_TIMEOUT_S ?? '5', 10);
if (!Number.isInteger(PORT) || PORT <= 0 || !Number.isInteger(WORKERS) || WORKERS < 1 || !(KEEPALIVE_TIMEOUT_S > 0)) {
  console.error('PORT must be a port number, WORKERS and KEEPALIVE_TIMEOUT_S positive integers');
  process.exit(2);
}

if (cluster.isPrimary && WORKERS > 1) {
  for (let i = 0; i < Math.min(WORKERS, availableParallelism() * 4); i++) cluster.fork();
  process.on('SIGTERM', () => {
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM');
    process.exit(0);
  });
} else {
  serve();
}

// The same deterministic filler as the reference catalogue's echo tool.
const PATTERN = 'mcpstack-payload-0123456789abcdefghijklmnopqrstuvwxyz;';
function payload(size) {
  return PATTERN.repeat(Math.floor(size / PATTERN.length) + 1).slice(0, size);
}

// The same query as the reference catalogue's get_customer.
const CUSTOMER_SQL = `
SELECT c.id, c.name, c.email, c.tier, c.country,
       COALESCE((SELECT json_agg(json_build_object('id', o.id, 'status', o.status, 'total_cents', o.total_cents,
                                                   'created_at', to_char(o.created_at AT TIME ZONE 'UTC',
                                                                         'YYYY-MM-DD"T"HH24:MI:SS"Z"')))
                   FROM (SELECT * FROM orders WHERE customer_id = c.id ORDER BY created_at DESC LIMIT $2) o),
                '[]'::json)::text AS recent_orders
  FROM customers c WHERE c.id = $1
`;

// pg returns int8 (bigint) columns as strings by default, as JavaScript numbers cannot hold every int8; the ids here
// are far below 2**53, so they are parsed as numbers, as pg's documentation suggests for such columns.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number.parseInt(value, 10));

const READ_ONLY = { readOnlyHint: true, openWorldHint: false };

function structured(value) {
  return { content: [{ type: 'text', text: JSON.stringify(value) }], structuredContent: value };
}

// The tools' definitions (zod schemas included) are built once per process; only the McpServer is per request, as
// the SDK's stateless example has it (a server connects to one transport at a time).
const ORDER = z.object({ id: z.number().int(), status: z.string(), total_cents: z.number().int(), created_at: z.string() });
const ECHO = {
  title: 'Echo',
  description: 'Echo a message back with a deterministic payload of the requested size.',
  inputSchema: {
    message: z.string().max(4096).describe('Text to echo back unchanged.'),
    payload_bytes: z.number().int().min(0).max(65536).default(512).describe('Size of the filler payload in bytes.'),
  },
  outputSchema: { message: z.string(), payload: z.string(), payload_bytes: z.number().int() },
  annotations: READ_ONLY,
};
const GET_CUSTOMER = {
  title: 'Customer lookup',
  description: 'Look up a customer by id with their most recent orders (an indexed database read).',
  inputSchema: {
    customer_id: z.number().int().min(1).describe("The customer's numeric id."),
    recent_orders: z.number().int().min(0).max(50).default(5).describe('How many of the newest orders to include.'),
  },
  outputSchema: {
    id: z.number().int(),
    name: z.string(),
    email: z.string(),
    tier: z.string(),
    country: z.string(),
    recent_orders: z.array(ORDER),
  },
  annotations: READ_ONLY,
};

async function echo({ message, payload_bytes }) {
  return structured({ message, payload: payload(payload_bytes), payload_bytes });
}

function getCustomer(pool) {
  return async ({ customer_id, recent_orders }) => {
    if (pool === null) {
      return { content: [{ type: 'text', text: 'get_customer failed: no database configured' }], isError: true };
    }
    const { rows } = await pool.query({ name: 'get_customer', text: CUSTOMER_SQL, values: [customer_id, recent_orders] });
    if (rows.length === 0) {
      const text = `No customer with id ${customer_id}. Customer ids are positive integers; check the id.`;
      return { content: [{ type: 'text', text }], isError: true };
    }
    const row = rows[0];
    return structured({
      id: row.id,
      name: row.name,
      email: row.email,
      tier: row.tier,
      country: row.country,
      recent_orders: JSON.parse(row.recent_orders),
    });
  };
}

function buildServer(getCustomerHandler) {
  const server = new McpServer({ name: 'mcpstack-peer-ts-sdk', version: '0.1.0' });
  server.registerTool('echo', ECHO, echo);
  server.registerTool('get_customer', GET_CUSTOMER, getCustomerHandler);
  return server;
}

function serve() {
  const pool = process.env.DATABASE_URL ? new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 4 }) : null;
  pool?.on('error', (error) => console.error('idle database client error:', error.message));
  const getCustomerHandler = getCustomer(pool);
  const app = createMcpExpressApp();
  app.post('/mcp', async (req, res) => {
    const server = buildServer(getCustomerHandler);
    try {
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
      res.on('close', () => {
        transport.close();
        server.close();
      });
      await server.connect(transport);
      await transport.handleRequest(req, res, req.body);
    } catch (error) {
      console.error('error handling MCP request:', error);
      if (!res.headersSent) {
        res.status(500).json({ jsonrpc: '2.0', error: { code: -32603, message: 'Internal server error' }, id: null });
      }
    }
  });
  const methodNotAllowed = (req, res) => {
    res.writeHead(405).end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32000, message: 'Method not allowed.' }, id: null }));
  };
  app.get('/mcp', methodNotAllowed);
  app.delete('/mcp', methodNotAllowed);
  const listener = app.listen(PORT, '127.0.0.1', (error) => {
    if (error) {
      console.error(`cannot listen on 127.0.0.1:${PORT}: ${error.message}`);
      process.exit(1);
    }
  });
  listener.keepAliveTimeout = KEEPALIVE_TIMEOUT_S * 1000;
  listener.headersTimeout = Math.max(listener.headersTimeout, listener.keepAliveTimeout + 1000);
  // Drain on SIGTERM: stop accepting, let in-flight requests finish, close the pool.
  process.on('SIGTERM', () => {
    listener.close(() => {
      (pool ? pool.end() : Promise.resolve()).finally(() => process.exit(0));
    });
    listener.closeIdleConnections?.();
    setTimeout(() => process.exit(0), 5000).unref();
  });
}
