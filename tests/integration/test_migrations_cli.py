"""The command line: migrations (status, checksums, pending, concurrency), configuration
validation, `user create`, `version`."""

import os
import time

import psycopg2
import pytest

from conftest import free_port, migration_files
from helpers import assert_problem, query


def _status_lines(p):
    return [ln.split() for ln in p.stdout.splitlines() if ln.strip()]


def _rows(dsn, sql, *args):
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    try:
        return query(conn, sql, *args)
    finally:
        conn.close()


def _applied_migrations(dsn):
    return _rows(dsn, "SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version")


# ---------------------------------------------------------------- status

def test_migrate_status_all_applied(stack, migrated, db):
    files = migration_files()
    assert files, "no migrations/*.sql"
    p = stack.run(["migrate", "status"])
    assert p.returncode == 0, p.stderr
    lines = _status_lines(p)
    assert len(lines) == len(files), f"expected one line per migration file:\n{p.stdout}"
    recorded = {r["version"]: r for r in query(db, "SELECT * FROM schema_migrations")}
    for parts, f in zip(lines, files):
        assert parts[0] == "applied", parts
        assert parts[1] == f, f"status lists {parts[1]}, expected {f} (in order)"
        assert len(parts) >= 3 and parts[2], f"no checksum on {parts}"
        rows = [r for v, r in recorded.items() if f.startswith(v)]
        assert len(rows) == 1, f"schema_migrations has no single row for {f}: {list(recorded)}"
        assert rows[0]["checksum"].startswith(parts[2]) or parts[2].startswith(rows[0]["checksum"]), \
            (parts, rows[0]["checksum"])


def test_schema_migrations_table(db):
    cols = {r["column_name"]: r["data_type"] for r in query(
        db, "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'schema_migrations'")}
    assert cols.get("version") == "text" and cols.get("name") == "text" and cols.get("checksum") == "text", cols
    assert cols.get("applied_at") == "timestamp with time zone", cols
    pk = query(db, "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
                   "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = 'schema_migrations'::regclass "
                   "AND i.indisprimary")
    assert [r["attname"] for r in pk] == ["version"]


def test_fresh_database_migrate_then_rerun(stack, fresh_db):
    name, dsn = fresh_db
    files = migration_files()
    p = stack.run(["migrate", "status"], dsn=dsn)
    assert p.returncode == 0, p.stderr
    lines = _status_lines(p)
    assert [l[:2] for l in lines] == [["pending", f] for f in files], p.stdout

    p = stack.run(["migrate"], dsn=dsn, timeout=180)
    assert p.returncode == 0, p.stderr
    out_lines = [ln for ln in p.stdout.splitlines() if ln.strip()]
    assert len(out_lines) == len(files), f"expected one line per applied migration:\n{p.stdout}"
    for ln, f in zip(out_lines, files):
        assert f in ln, f"line {ln!r} does not name {f}"
    rows = _applied_migrations(dsn)
    assert len(rows) == len(files)

    p = stack.run(["migrate"], dsn=dsn, timeout=180)
    assert p.returncode == 0, p.stderr
    assert not any(f in p.stdout for f in files), f"re-run applied something again:\n{p.stdout}"
    assert _applied_migrations(dsn) == rows, "re-running migrate changed schema_migrations"

    p = stack.run(["migrate", "status"], dsn=dsn)
    assert [l[0] for l in _status_lines(p)] == ["applied"] * len(files), p.stdout


# ---------------------------------------------------------------- changed file

def test_changed_applied_migration_is_refused(stack, fresh_db, migrations_copy):
    name, dsn = fresh_db
    env = {"YIZHAN_MIGRATIONS_DIR": str(migrations_copy)}
    p = stack.run(["migrate"], env=env, dsn=dsn, timeout=180)
    assert p.returncode == 0, p.stderr
    before = _applied_migrations(dsn)

    victim = migration_files(migrations_copy)[-1]
    with open(migrations_copy / victim, "a") as f:
        f.write("\n-- edited after it was applied\n")

    p = stack.run(["migrate"], env=env, dsn=dsn, timeout=60)
    assert p.returncode not in (0, None), f"migrate accepted a changed migration:\n{p.stdout}{p.stderr}"
    assert victim in p.stdout + p.stderr, f"message does not name {victim}:\n{p.stdout}{p.stderr}"
    assert _applied_migrations(dsn) == before

    port = free_port()
    p = stack.run(["serve"], env={**env, "YIZHAN_LISTEN": f"127.0.0.1:{port}"}, dsn=dsn, timeout=15)
    assert p.returncode is not None, "serve started although an applied migration was changed"
    assert p.returncode != 0
    assert victim in p.stdout + p.stderr, f"serve's message does not name {victim}:\n{p.stderr}"

    p = stack.run(["migrate", "status"], env=env, dsn=dsn, timeout=60)
    assert victim in p.stdout + p.stderr


# ---------------------------------------------------------------- pending

def test_serve_refuses_pending_migrations(stack, fresh_db):
    name, dsn = fresh_db
    port = free_port()
    p = stack.run(["serve"], env={"YIZHAN_LISTEN": f"127.0.0.1:{port}"}, dsn=dsn, timeout=15)
    assert p.returncode is not None, "serve started with every migration pending"
    assert p.returncode != 0
    assert "--migrate" in p.stdout + p.stderr, f"message does not mention --migrate:\n{p.stderr}"


def test_serve_refuses_new_pending_migration(stack, fresh_db, migrations_copy):
    name, dsn = fresh_db
    env = {"YIZHAN_MIGRATIONS_DIR": str(migrations_copy)}
    assert stack.run(["migrate"], env=env, dsn=dsn, timeout=180).returncode == 0
    (migrations_copy / "9990_test_pending.sql").write_text("CREATE TABLE test_pending_marker (x int);\n")
    p = stack.run(["migrate", "status"], env=env, dsn=dsn)
    assert p.returncode == 0
    assert ["pending", "9990_test_pending.sql"] in [l[:2] for l in _status_lines(p)], p.stdout
    port = free_port()
    p = stack.run(["serve"], env={**env, "YIZHAN_LISTEN": f"127.0.0.1:{port}"}, dsn=dsn, timeout=15)
    assert p.returncode not in (0, None), "serve started with a pending migration"
    assert "--migrate" in p.stdout + p.stderr, p.stderr


def test_serve_with_migrate_flag_applies_and_serves(spawn, fresh_db, migrations_copy):
    name, dsn = fresh_db
    (migrations_copy / "9990_test_pending.sql").write_text("CREATE TABLE test_pending_marker (x int);\n")
    srv = spawn({"YIZHAN_MIGRATIONS_DIR": str(migrations_copy)}, args=("serve", "--migrate"), dsn=dsn,
                ready_timeout=60)
    r = srv.api.get("/readyz")
    assert r.status == 200, r
    assert srv.api.get("/api/v1/codes/regions/511900").status == 200
    rows = _applied_migrations(dsn)
    assert len(rows) == len(migration_files(migrations_copy))
    assert _rows(dsn, "SELECT to_regclass('test_pending_marker') IS NOT NULL AS ok")[0]["ok"]

    # the newest migration un-recorded behind the server's back → it is pending → not ready
    last = max(rows, key=lambda r: r["version"])
    _rows(dsn, "DELETE FROM schema_migrations WHERE version = %s", last["version"])
    try:
        r = srv.api.get("/readyz")
        assert_problem(r, 503)
        assert r.headers.get("Retry-After"), r
        assert srv.api.get("/livez").status == 200
    finally:
        _rows(dsn, "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (%s, %s, %s, %s)",
              last["version"], last["name"], last["checksum"], last["applied_at"])
    assert srv.api.get("/readyz").status == 200


def test_concurrent_migrates_apply_each_once(stack, fresh_db):
    name, dsn = fresh_db
    files = migration_files()
    procs = [stack.popen(["migrate"], dsn=dsn) for _ in range(2)]
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=180)
        outs.append((p.returncode, out, err))
    for code, out, err in outs:
        assert code == 0, f"a concurrent migrate failed ({code}):\n{out}\n{err}"
    rows = _applied_migrations(dsn)
    assert len(rows) == len(files)
    both = outs[0][1] + outs[1][1]
    for f in files:
        assert both.count(f) == 1, f"{f} reported applied {both.count(f)} times:\n--- 1\n{outs[0][1]}--- 2\n{outs[1][1]}"


# ---------------------------------------------------------------- configuration

@pytest.mark.parametrize("var,value", [
    ("YIZHAN_THREADS", "abc"),
    ("YIZHAN_THREADS", "-1"),
    ("YIZHAN_LISTEN", "nonsense"),
    ("YIZHAN_LISTEN", "127.0.0.1:99999"),
    ("YIZHAN_DB_CONNS", "0"),
    ("YIZHAN_MAX_BODY_BYTES", "lots"),
    ("YIZHAN_READ_TIMEOUT_MS", "1.5"),
    ("YIZHAN_QUERY_TIMEOUT_MS", "10s"),
    ("YIZHAN_LOG_LEVEL", "loud"),
    ("YIZHAN_ACCESS_LOG", "maybe"),
])
def test_invalid_option_exits_2_naming_it(stack, migrated, var, value):
    p = stack.run(["serve"], env={var: value}, timeout=15)
    assert p.returncode is not None, f"serve started with {var}={value}"
    assert p.returncode == 2, f"{var}={value}: exit {p.returncode}, stderr: {p.stderr}"
    assert var in p.stderr, f"stderr does not name {var}: {p.stderr!r}"


def test_invalid_option_in_config_file(stack, migrated, tmp_path):
    cfg = tmp_path / "yizhan.conf"
    cfg.write_text("YIZHAN_THREADS=abc\n")
    p = stack.run(["serve"], env={"YIZHAN_CONFIG_FILE": str(cfg)}, timeout=15)
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert "THREADS" in p.stderr, p.stderr


def test_config_file_values_are_used(spawn, tmp_path):
    cfg = tmp_path / "yizhan.conf"
    cfg.write_text("# test\nYIZHAN_MAX_BODY_BYTES=2048\n")
    srv = spawn({"YIZHAN_CONFIG_FILE": str(cfg)})
    r = srv.api.post("/api/v1/auth/login", json={"email": "a@example.test", "password": "x" * 3000})
    assert r.status == 413, r


@pytest.mark.parametrize("secret", [b"", b"x" * 16, b"y" * 31])
def test_short_jwt_secret_refused(stack, migrated, tmp_path, secret):
    f = tmp_path / "short.secret"
    f.write_bytes(secret)
    f.chmod(0o600)
    p = stack.run(["serve"], env={"YIZHAN_JWT_SECRET_FILE": str(f), "YIZHAN_LISTEN": f"127.0.0.1:{free_port()}"},
                  timeout=15)
    assert p.returncode not in (0, None), f"serve started with a {len(secret)}-byte JWT secret"
    assert "JWT_SECRET" in p.stderr, p.stderr


@pytest.mark.parametrize("value", [None, "/nonexistent/jwt.secret"])
def test_missing_jwt_secret_refused(stack, migrated, value):
    p = stack.run(["serve"], env={"YIZHAN_JWT_SECRET_FILE": value, "YIZHAN_LISTEN": f"127.0.0.1:{free_port()}"},
                  timeout=15)
    assert p.returncode not in (0, None), "serve started without a JWT secret file"
    assert "JWT_SECRET" in p.stderr, p.stderr


def test_exactly_32_byte_secret_accepted(spawn, tmp_path):
    f = tmp_path / "ok.secret"
    # 32 random bytes; the last one not CR/LF, which the server may trim as a line ending
    f.write_bytes(os.urandom(31) + b"k")
    f.chmod(0o600)
    srv = spawn({"YIZHAN_JWT_SECRET_FILE": str(f)})
    assert srv.api.get("/livez").status == 200


def test_version(stack):
    p = stack.run(["version"])
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip(), "version printed nothing"


def test_unknown_subcommand_fails(stack):
    p = stack.run(["frobnicate"])
    assert p.returncode not in (0, None)


# ---------------------------------------------------------------- user create

@pytest.mark.parametrize("role,extra", [("reviewer", {}), ("admin", {}), ("bureau", {"region": "511900"})])
def test_user_create(users, db, role, extra):
    u = users.create(role=role, **extra)
    rows = query(db, "SELECT * FROM users WHERE lower(email) = lower(%s)", u["email"])
    assert len(rows) == 1
    row = rows[0]
    assert str(row["id"]) == u["id"], f"printed id {u['id']!r} but row id is {row['id']}"
    assert row["role"] == role
    h = row["password_hash"]
    assert h.startswith("pbkdf2-sha256$"), h
    assert u["password"] not in h
    if role == "bureau":
        assert row["region_code"].strip() == "511900"


def test_user_create_is_on_the_audit_record(users, db, stack):
    """An account made at the console gets the audit entry an API-made one
    gets, in the same transaction; a refused one (duplicate email) gets none."""
    u = users.create(role="reviewer", name="控制台创建")
    rows = query(db, "SELECT * FROM audit_log WHERE entity = 'user' AND entity_id = %s", u["id"])
    assert len(rows) == 1, rows
    a = rows[0]
    assert (a["action"], a["actor_user_id"], a["actor_role"], a["request_id"], a["before"]) == \
        ("create", None, None, "cli-user-create", None), a
    assert a["after"]["email"] == u["email"] and a["after"]["role"] == "reviewer", a["after"]
    assert a["after"]["display_name"] == "控制台创建" and str(a["after"]["id"]) == u["id"]
    assert not any("password" in k for k in a["after"]), "the audit entry must not carry the password hash"
    n = query(db, "SELECT count(*) AS n FROM audit_log")[0]["n"]
    p = users.create(role="reviewer", email=u["email"], expect_ok=False)
    assert p.returncode not in (0, None)
    assert query(db, "SELECT count(*) AS n FROM audit_log")[0]["n"] == n, "a refused account left an audit entry"
    p = stack.run(["audit", "verify"])
    assert p.returncode == 0, (p.stdout, p.stderr)


def test_user_create_same_email_twice_fails(users, db):
    u = users.create(role="reviewer")
    p = users.create(role="reviewer", email=u["email"], expect_ok=False)
    assert p.returncode not in (0, None), "the same email was accepted twice"
    p = users.create(role="reviewer", email=u["email"].upper(), expect_ok=False)
    assert p.returncode not in (0, None), "the same email in another case was accepted"
    assert query(db, "SELECT count(*) AS n FROM users WHERE lower(email) = lower(%s)", u["email"])[0]["n"] == 1


def test_user_create_bad_role_fails(users):
    p = users.create(role="superuser", expect_ok=False)
    assert p.returncode not in (0, None)


def test_user_create_hashes_differ_for_same_password(users, db):
    a = users.create(role="reviewer", password="Same-Password-123")
    b = users.create(role="reviewer", password="Same-Password-123")
    ha, hb = (query(db, "SELECT password_hash FROM users WHERE email = %s", u["email"])[0]["password_hash"]
              for u in (a, b))
    assert ha != hb, "password hashes are not salted"
