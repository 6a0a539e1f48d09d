-- The ticket list's and the dashboard's counts (total, open, in progress,
-- resolved, urgent; the queue: open and nobody's) over a staff member's
-- departments: an index-only scan instead of reading every ticket of the
-- scope (console bench, 100,000 tickets on PostgreSQL: the unfiltered
-- list 75 → 8 ms, the dashboard 111 → 26 ms at p50; tests/BENCHMARKS.md).
CREATE INDEX tickets_counts ON tickets (department_id, status, priority, assignee_id);
