DROP INDEX tickets_no_group_updated;
