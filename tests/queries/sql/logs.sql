-- name: log_add :one (tenant_id, provider, request, elapsed_ms?)
-- An enum column reads as its label (std::string); jsonb is sent as text and cast.
insert into action_logs (tenant_id, action_type, provider, request, execution_time_ms)
values ($1, 'crm', $2, $3::text::jsonb, $4)
returning id, action_type, status, request, execution_time_ms, created_at;
