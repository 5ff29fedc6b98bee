-- What integrations did on a tenant's behalf: one row per external action, its payloads,
-- outcome and run time.
create type action_type as enum ('crm', 'helpdesk', 'calendar', 'email', 'knowledge');
create type action_status as enum ('pending', 'success', 'failure', 'timeout', 'retry');

create table action_logs (
    id                 uuid primary key default uuidv7(),
    tenant_id          uuid not null references tenants (id) on delete cascade,
    action_type        action_type not null,
    provider           text not null,
    status             action_status not null default 'pending',
    request            jsonb,
    response           jsonb,
    error_message      text,
    execution_time_ms  integer check (execution_time_ms >= 0),
    created_at         timestamptz not null default now(),
    updated_at         timestamptz not null default now()
);

create index action_logs_tenant_created_idx on action_logs (tenant_id, created_at desc);
create index action_logs_tenant_status_idx on action_logs (tenant_id, status);
create index action_logs_tenant_type_idx on action_logs (tenant_id, action_type, created_at desc);

create trigger action_logs_set_updated_at before update on action_logs
    for each row execute function set_updated_at();

alter table action_logs enable row level security;
alter table action_logs force row level security;
create policy tenant_isolation on action_logs
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
