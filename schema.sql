-- schema.sql — the reference schema as it should be, in one declarative file: what
-- `migrations/` builds, written as if from scratch. Edit this file, then let
--   pgcoro-migrate diff --to schema.sql --name what_changed
-- draft the migration pair that gets there, and review it. CI runs
--   pgcoro-migrate diff --to schema.sql --check
-- so the migrations and this file cannot drift apart (CTest `schema_file`).

-- Tenants: the root of every tenant-owned row, plus two helpers the later tables use.

-- UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then random bits, so keys made close
-- in time sit close in a B-tree. PostgreSQL 18 has uuidv7() built in (pg_catalog comes
-- first in the search path, so the built-in wins there).
create or replace function uuidv7() returns uuid
language sql volatile parallel safe
as $$
    select encode(
        set_bit(
            set_bit(
                overlay(uuid_send(gen_random_uuid())
                        placing substring(int8send((extract(epoch from clock_timestamp()) * 1000)::bigint) from 3)
                        from 1 for 6),
                52, 1),
            53, 1),
        'hex')::uuid
$$;

-- Keeps updated_at current on every UPDATE.
create or replace function set_updated_at() returns trigger
language plpgsql
as $$
begin
    new.updated_at := now();
    return new;
end;
$$;

create table tenants (
    id          uuid primary key default gen_random_uuid(),
    slug        varchar(63) not null unique
                check (slug ~ '^[a-z0-9]([a-z0-9-]*[a-z0-9])?$'),
    name        text not null check (length(name) between 1 and 200),
    is_active   boolean not null default true,
    created_at  timestamptz not null default now(),
    updated_at  timestamptz not null default now()
);

create trigger tenants_set_updated_at before update on tenants
    for each row execute function set_updated_at();

comment on table tenants is 'One row per customer organisation; every tenant-owned table points here.';
comment on column tenants.slug is 'URL-safe key: lower-case letters, digits and inner hyphens, at most 63 characters (a DNS label).';

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

-- Roles are defined per tenant; user_roles grants them. A grant's user and role must
-- belong to the grant's tenant (composite foreign keys).
create table roles (
    id           uuid primary key default uuidv7(),
    tenant_id    uuid not null references tenants (id) on delete cascade,
    name         text not null check (name ~ '^[a-z][a-z0-9_:.-]*$'),
    description  text,
    created_at   timestamptz not null default now(),
    updated_at   timestamptz not null default now(),
    unique (tenant_id, name),
    unique (tenant_id, id)
);

create trigger roles_set_updated_at before update on roles
    for each row execute function set_updated_at();

create table user_roles (
    tenant_id   uuid not null,
    user_id     uuid not null,
    role_id     uuid not null,
    granted_at  timestamptz not null default now(),
    primary key (user_id, role_id),
    foreign key (tenant_id, user_id) references users (tenant_id, id) on delete cascade,
    foreign key (tenant_id, role_id) references roles (tenant_id, id) on delete cascade
);

create index user_roles_role_idx on user_roles (tenant_id, role_id);

alter table roles enable row level security;
alter table roles force row level security;
create policy tenant_isolation on roles
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);

alter table user_roles enable row level security;
alter table user_roles force row level security;
create policy tenant_isolation on user_roles
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);

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

