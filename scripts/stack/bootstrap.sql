-- Roles and grants of one bar-ingest database, idempotent. Run by psql against that database with
-- -v admin_user=... -v admin_password=... -v worker_user=... -v worker_password=... -v db=...
-- Used by the native stack (scripts/stack/postgres.sh) and by docker-compose (postgres-init.sh).
-- The admin role owns the database and runs migrations; the worker role may connect and see the
-- schema. Its rights on tables are granted by the migrations, table by table, so they are the same
-- in every deployment (migrations/20261127000001_worker_privileges.ts, shared/adapters/privileges.ts).
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', :'admin_user', :'admin_password')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'admin_user') \gexec
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', :'worker_user', :'worker_password')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'worker_user') \gexec
ALTER DATABASE :"db" OWNER TO :"admin_user";
ALTER SCHEMA public OWNER TO :"admin_user";
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT CONNECT ON DATABASE :"db" TO :"worker_user";
GRANT USAGE ON SCHEMA public TO :"worker_user";
