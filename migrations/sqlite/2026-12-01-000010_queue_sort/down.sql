DROP INDEX tickets_due_key;
DROP INDEX tickets_priority_key;
