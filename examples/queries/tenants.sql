-- The service's tenant statements. pgcoro_typed_queries() (examples/CMakeLists.txt) turns
-- each into a typed function in namespace service_queries, checked by PostgreSQL against
-- the reference schema (migrations/).

-- name: list_tenants :many
-- created_at as text: the JSON shows the server's own rendering (`!`: it is not NULL).
select id, slug, name, is_active, created_at::text as "created_at!"
from tenants
order by created_at, slug;

-- name: create_tenant :one (slug, name)
insert into tenants (slug, name) values ($1, $2)
returning id, slug, name, is_active, created_at::text as "created_at!";

-- name: tenant_id_by_slug :opt (slug)
select id from tenants where slug = $1;
