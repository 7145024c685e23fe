-- The creator of a task (services/tasks.py, owner_of): with authentication on, a SHA-256 digest of the token's
-- subject, and tasks/get, tasks/update and tasks/cancel match it exactly, so another subject's request finds no row
-- (answered as an unknown task). NULL for a task created without authentication. Existing rows keep NULL: tasks of a
-- server that ran without authentication stay readable by their id alone until they expire.
ALTER TABLE mcp_tasks ADD COLUMN owner text;
