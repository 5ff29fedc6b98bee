-- a migration embedded by an packaged pgcoro's pgcoro_embed_migrations()
create table consumer_hello (id int);
