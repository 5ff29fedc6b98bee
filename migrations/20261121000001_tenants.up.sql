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
