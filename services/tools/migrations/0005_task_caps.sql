-- The task record bounds (services/tasks.py, TaskLimits; docs/tasks.md): at most max_per_owner records per owner and
-- max_stored in all, a finished record going first (the oldest) when a bound is reached.
--
-- mcp_tasks_owner: the per-owner count (an index-only scan that stops at the bound) and that owner's oldest finished
-- record. mcp_tasks_finished: the oldest finished record of anyone's, without reading the unfinished ones. Rows
-- without an owner (NULL, created without authentication) are not in mcp_tasks_owner's range scans: they have no
-- per-owner bound.
CREATE INDEX mcp_tasks_owner ON mcp_tasks (owner, created_at);
CREATE INDEX mcp_tasks_finished ON mcp_tasks (created_at) WHERE status IN ('completed', 'failed', 'cancelled');
