drop table action_logs;
drop type action_status;
drop type action_type;
