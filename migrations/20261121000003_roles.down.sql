drop table user_roles;
drop table roles;
