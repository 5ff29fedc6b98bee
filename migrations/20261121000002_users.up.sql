-- Users belong to one tenant; e-mail addresses are unique per tenant, ignoring case.
create table users (
    id            uuid primary key default uuidv7(),
    tenant_id     uuid not null references tenants (id) on delete cascade,
    email         text not null check (position('@' in email) > 1),
    display_name  text,
    is_active     boolean not null default true,
    created_at    timestamptz not null default now(),
    updated_at    timestamptz not null default now(),
    -- lets user_roles check that a user and a role share a tenant
    unique (tenant_id, id)
);

create unique index users_tenant_email_key on users (tenant_id, lower(email));

create trigger users_set_updated_at before update on users
    for each row execute function set_updated_at();

-- Row-level security: a session sees and writes only the rows of the tenant named by
-- the setting app.tenant_id (pgcoro's tenant-scoped transactions set it). Forced, so the
-- table owner is held to it too; only superusers and BYPASSRLS roles are not.
alter table users enable row level security;
alter table users force row level security;
create policy tenant_isolation on users
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
