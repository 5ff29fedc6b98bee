drop table audit_logs;
