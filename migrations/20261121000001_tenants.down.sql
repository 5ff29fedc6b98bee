drop table tenants;
drop function set_updated_at();
drop function uuidv7();
