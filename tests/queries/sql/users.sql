-- name: user_add :one (tenant_id, email, display_name?)
insert into users (tenant_id, email, display_name) values ($1, $2, $3)
returning id, email, display_name;

-- name: users_with_tenant :many (tenant_id)
-- An inner join: both sides' NOT NULL columns stay NOT NULL.
select t.slug, u.email, u.display_name
from users u join tenants t on t.id = u.tenant_id
where u.tenant_id = $1
order by u.email;

-- name: tenants_with_users :many (slug_prefix)
-- A LEFT JOIN: the users side may be missing, so its columns may be NULL.
select t.slug, u.email, u.display_name
from tenants t left join users u on u.tenant_id = t.id
where t.slug like $1 || '%'
order by t.slug, u.email;

-- name: users_right_join :many (slug_prefix)
-- A RIGHT JOIN: now the tenants side may be missing.
select t.slug, u.email
from tenants t right join users u on u.tenant_id = t.id and t.slug like $1 || '%'
order by u.email;

-- name: left_join_made_inner :many (slug_prefix)
-- The WHERE clause rejects the join's NULLs: the planner makes it an inner join.
select t.slug, u.email
from tenants t left join users u on u.tenant_id = t.id
where u.email is not null and t.slug like $1 || '%';

-- name: user_emails :one (tenant_id)
-- Aggregates may be NULL (no rows at all).
select array_agg(u.email order by u.email) as emails, min(u.email) as first
from users u where u.tenant_id = $1;

-- name: users_by_emails :many (tenant_id, emails)
-- An override the other way: `?` makes a NOT NULL column optional.
select email, email as "maybe_email?", length(email) as "len!" from users
where tenant_id = $1 and email = any($2)
order by email;
