-- The service's user statements. They run in tenant-scoped transactions, so row-level
-- security shows and accepts the rows of that tenant only.

-- name: list_users :many
select id, email, display_name from users order by email;

-- name: create_user :one (tenant_id, email, display_name?)
insert into users (tenant_id, email, display_name) values ($1, $2, $3)
returning id, email, display_name;
