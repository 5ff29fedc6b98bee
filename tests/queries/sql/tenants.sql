-- Statements the typed-queries tests generate and run (tests/queries/queries_tests.cpp).
-- Each one is also a nullability case: the expected C++ types are checked there.

-- name: tenant_add :one (slug, name)
insert into tenants (slug, name) values ($1, $2)
returning id, slug, name, is_active, created_at;

-- name: tenant_by_slug :opt (slug)
select id, slug, name, is_active from tenants where slug = $1;

-- name: tenant_names :many
select slug, name from tenants order by slug;

-- name: tenant_rename :execrows (slug, name)
update tenants set name = $2 where slug = $1;

-- name: tenant_delete :exec (slug)
delete from tenants where slug = $1;

-- name: tenant_count :one
-- An expression may be NULL as far as the server can tell; `!` says it is not.
select count(*) as "total!", max(created_at) as latest from tenants;

-- name: tenant_id_of :one (slug)
select id from tenants where slug = $1;

-- name: tenant_rollup :many (slug_prefix)
-- ROLLUP's summary row holds NULL in the grouped column, NOT NULL as it is in the table.
select slug, count(*) as "n!" from tenants where slug like $1 || '%' group by rollup (slug) order by slug;
