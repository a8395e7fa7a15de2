-- A table for the deploy tests.
CREATE TABLE widgets (id bigint PRIMARY KEY, name text NOT NULL);
