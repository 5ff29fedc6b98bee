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
