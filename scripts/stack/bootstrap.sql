-- Roles and grants of one bar-ingest database, idempotent. Run by psql against that database with
-- -v admin_user=... -v admin_password=... -v worker_user=... -v worker_password=... -v db=...
-- Used by the native stack (scripts/stack/postgres.sh) and by docker-compose (postgres-init.sh).
-- The admin role owns the database and runs migrations; the worker role may only read and write
-- rows (no DDL), granted by default privileges so tables that later migrations create are covered.
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', :'admin_user', :'admin_password')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'admin_user') \gexec
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', :'worker_user', :'worker_password')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'worker_user') \gexec
ALTER DATABASE :"db" OWNER TO :"admin_user";
ALTER SCHEMA public OWNER TO :"admin_user";
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT CONNECT ON DATABASE :"db" TO :"worker_user";
GRANT USAGE ON SCHEMA public TO :"worker_user";
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO :"worker_user";
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO :"worker_user";
ALTER DEFAULT PRIVILEGES FOR ROLE :"admin_user" IN SCHEMA public
  GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO :"worker_user";
ALTER DEFAULT PRIVILEGES FOR ROLE :"admin_user" IN SCHEMA public
  GRANT USAGE, SELECT ON SEQUENCES TO :"worker_user";
