-- Statement shapes whose nullability the plan decides (tests/queries/queries_tests.cpp).

-- name: full_join :many (slug_prefix)
-- FULL JOIN: either side may be missing.
select t.slug, u.email
from (select * from tenants where slug like $1 || '%') t
full join users u on u.tenant_id = t.id
order by t.slug, u.email;

-- name: lateral_left :many (slug_prefix)
-- A LEFT JOIN LATERAL subquery pulled up into the join: its column is the outer table's
-- NOT NULL id, yet NULL for tenants without users.
select t.slug, x.tid
from tenants t
left join lateral (select t.id as tid from users u where u.tenant_id = t.id) x on true
where t.slug like $1 || '%'
order by t.slug;

-- name: flattened_subquery :many
-- A subquery the planner flattens: its columns are the table's.
select s.slug from (select slug from tenants) s order by s.slug;

-- name: through_cte :many
-- A CTE it keeps (MATERIALIZED): unsure, so optional.
with x as materialized (select slug from tenants) select slug from x order by slug;

-- name: union_all :many
-- A UNION: no table column of its own.
select slug from tenants union all select email from users;
