-- The system tenant: owns platform-level rows. Idempotent: safe to run any number of times.
insert into tenants (id, slug, name)
values ('00000000-0000-0000-0000-000000000001', 'system', 'System')
on conflict (slug) do nothing;
