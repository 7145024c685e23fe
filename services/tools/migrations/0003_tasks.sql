-- Tasks of the MCP tasks extension (services/tasks.py): one row per task, so every worker and instance on this
-- database answers tasks/get, tasks/update and tasks/cancel for a task another one runs.
--
-- The worker running a task polls its row for answers (input_responses) and cancellation; rows past expires_at are
-- answered as unknown and deleted when a task is created. result, error and the input maps are the JSON the
-- extension puts on the wire (tasks/get inlines them).
CREATE TABLE mcp_tasks (
    task_id text PRIMARY KEY,
    status text NOT NULL CHECK (status IN ('working', 'input_required', 'completed', 'failed', 'cancelled')),
    status_message text,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    ttl_ms bigint NOT NULL CHECK (ttl_ms > 0),
    result jsonb,
    error jsonb,
    input_requests jsonb NOT NULL DEFAULT '{}',
    input_responses jsonb NOT NULL DEFAULT '{}'
);

CREATE INDEX mcp_tasks_expires_at ON mcp_tasks (expires_at);
