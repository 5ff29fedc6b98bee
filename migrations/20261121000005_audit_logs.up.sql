-- Who changed what: an append-only trail per tenant. user_id survives the user's deletion
-- as NULL, so the trail stays.
create table audit_logs (
    id             uuid primary key default uuidv7(),
    tenant_id      uuid not null references tenants (id) on delete cascade,
    user_id        uuid references users (id) on delete set null,
    action         text not null,
    resource_type  text not null,
    resource_id    text,
    changes        jsonb,
    ip_address     inet,
    user_agent     text,
    created_at     timestamptz not null default now()
);

create index audit_logs_tenant_created_idx on audit_logs (tenant_id, created_at desc);
create index audit_logs_tenant_resource_idx on audit_logs (tenant_id, resource_type, resource_id);
create index audit_logs_user_idx on audit_logs (user_id) where user_id is not null;

alter table audit_logs enable row level security;
alter table audit_logs force row level security;
create policy tenant_isolation on audit_logs
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
