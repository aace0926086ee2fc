DROP TRIGGER ticket_counts_delete ON tickets;
DROP TRIGGER ticket_counts_update ON tickets;
DROP TRIGGER ticket_counts_insert ON tickets;
DROP FUNCTION ticket_counts_apply();
DROP TABLE ticket_counts;
