"""The command line: migrations (status, checksums, pending, concurrency), the SQL function
files (applied when they change, dropped and re-created, refused when something depends on
them), configuration validation, `user create`, `version`."""

import hashlib
import os
import re
from pathlib import Path

import psycopg2
import pytest

from conftest import free_port, function_files, migration_files, migrations_dir
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


def _applied_functions(dsn):
    return _rows(dsn, "SELECT module, position, checksum, applied_at FROM schema_functions ORDER BY position")


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _one(dsn, sql, *args):
    return list(_rows(dsn, sql, *args)[0].values())[0]


def _migrate(stack, env, dsn, ok=True):
    p = stack.run(["migrate"], env=env, dsn=dsn, timeout=180)
    if ok:
        assert p.returncode == 0, f"migrate failed:\n{p.stdout}{p.stderr}"
    return p


@pytest.fixture
def fn_db(stack, fresh_db, migrations_copy):
    """A fresh database migrated from a copy of migrations/ that a test may edit:
    (dsn, env, the copy's functions/ folder)."""
    name, dsn = fresh_db
    env = {"YIZHAN_MIGRATIONS_DIR": str(migrations_copy)}
    _migrate(stack, env, dsn)
    return dsn, env, migrations_copy / "functions"


# ---------------------------------------------------------------- status

def test_migrate_status_all_applied(stack, migrated, db):
    files = migration_files()
    modules = function_files()
    assert files, "no migrations/*.sql"
    assert modules, "no migrations/functions/ORDER"
    p = stack.run(["migrate", "status"])
    assert p.returncode == 0, p.stderr
    lines = _status_lines(p)
    assert len(lines) == len(files) + len(modules), f"expected one line per migration and function file:\n{p.stdout}"
    recorded = {r["version"]: r for r in query(db, "SELECT * FROM schema_migrations")}
    for parts, f in zip(lines, files):
        assert parts[0] == "applied", parts
        assert parts[1] == f, f"status lists {parts[1]}, expected {f} (in order)"
        assert len(parts) >= 3 and parts[2], f"no checksum on {parts}"
        rows = [r for v, r in recorded.items() if f.startswith(v)]
        assert len(rows) == 1, f"schema_migrations has no single row for {f}: {list(recorded)}"
        assert rows[0]["checksum"].startswith(parts[2]) or parts[2].startswith(rows[0]["checksum"]), \
            (parts, rows[0]["checksum"])
    fns = {r["module"]: r for r in query(db, "SELECT * FROM schema_functions")}
    for i, (parts, m) in enumerate(zip(lines[len(files):], modules)):
        assert parts[:2] == ["applied", f"functions/{m}.sql"], (parts, m)
        assert parts[2] == fns[m]["checksum"] == _sha(migrations_dir() / "functions" / f"{m}.sql"), (parts, fns[m])
        assert fns[m]["position"] == i


def test_schema_migrations_table(db):
    cols = {r["column_name"]: r["data_type"] for r in query(
        db, "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'schema_migrations'")}
    assert cols.get("version") == "text" and cols.get("name") == "text" and cols.get("checksum") == "text", cols
    assert cols.get("applied_at") == "timestamp with time zone", cols
    pk = query(db, "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
                   "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = 'schema_migrations'::regclass "
                   "AND i.indisprimary")
    assert [r["attname"] for r in pk] == ["version"]


def test_every_function_is_recorded_with_its_file(db):
    """Every function and trigger was made by a function file and is recorded as its, but for
    what a table or an index depends on, which a versioned migration makes (the baseline's two,
    0027's index expression)."""
    rows = query(db, "SELECT p.oid::regprocedure::text AS f FROM pg_proc p "
                     "WHERE p.pronamespace = 'public'::regnamespace AND NOT EXISTS ("
                     "SELECT 1 FROM schema_function_objects o WHERE o.kind = 'function' "
                     "AND o.identity = p.oid::regprocedure::text) ORDER BY 1")
    assert [r["f"] for r in rows] == ["contract_filter_tags(bigint,smallint,text,text,text,text,text)",
                                      "credit_code_valid(text)", "region_prefix(text)"], rows
    n = query(db, "SELECT count(*) AS n FROM pg_trigger t WHERE NOT t.tgisinternal AND NOT EXISTS ("
                  "SELECT 1 FROM schema_function_objects o WHERE o.kind = 'trigger' "
                  "AND o.identity = format('%I ON %s', t.tgname, t.tgrelid::regclass))")[0]["n"]
    assert n == 0
    assert query(db, "SELECT count(*) AS n FROM schema_function_objects WHERE kind = 'trigger'")[0]["n"] > 20
    # the server's role can run what the files made
    assert query(db, "SELECT has_function_privilege('yizhan_app', 'today_cn()', 'EXECUTE') AS ok")[0]["ok"]


def test_each_function_is_defined_once():
    """One home for each function: `CREATE FUNCTION name` stands once in migrations/ (the
    habit the README gives: grep ... | uniq -d prints nothing), never as OR REPLACE in a
    function file (the runner makes each object once)."""
    names = []
    for f in sorted(Path(migrations_dir()).rglob("*.sql")):
        text = f.read_text()
        names += [m.lower() for m in re.findall(r"create +(?:or +replace +)?function +([a-z_0-9.]+)", text, re.I)]
        if f.parent.name == "functions":
            assert not re.search(r"create +or +replace", text, re.I), f"{f.name}: CREATE OR REPLACE"
    twice = sorted({n for n in names if names.count(n) > 1})
    assert names and not twice, f"defined more than once: {twice}"


def test_fresh_database_migrate_then_rerun(stack, fresh_db):
    name, dsn = fresh_db
    files = migration_files()
    modules = function_files()
    p = stack.run(["migrate", "status"], dsn=dsn)
    assert p.returncode == 0, p.stderr
    lines = _status_lines(p)
    assert [l[:2] for l in lines] == [["pending", f] for f in files] + \
        [["pending", f"functions/{m}.sql"] for m in modules], p.stdout

    p = stack.run(["migrate"], dsn=dsn, timeout=180)
    assert p.returncode == 0, p.stderr
    out_lines = [ln for ln in p.stdout.splitlines() if ln.strip()]
    names = files + [f"functions/{m}.sql" for m in modules]
    assert len(out_lines) == len(names), f"expected one line per applied file:\n{p.stdout}"
    for ln, f in zip(out_lines, names):
        assert f in ln, f"line {ln!r} does not name {f}"
    rows = _applied_migrations(dsn)
    fns = _applied_functions(dsn)
    assert len(rows) == len(files)
    assert [r["module"] for r in fns] == modules

    p = stack.run(["migrate"], dsn=dsn, timeout=180)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "", f"re-run applied something again:\n{p.stdout}"
    assert _applied_migrations(dsn) == rows, "re-running migrate changed schema_migrations"
    assert _applied_functions(dsn) == fns, "re-running migrate re-applied the function files"

    p = stack.run(["migrate", "status"], dsn=dsn)
    assert [l[0] for l in _status_lines(p)] == ["applied"] * len(names), p.stdout


def test_seeded_subsidy_policies_pass_the_rule_check(db):
    """0005_plan_seeds.sql inserts rules before the function files exist: they must pass
    subsidy_rules_check() as an admin's would."""
    rows = query(db, "SELECT name, subsidy_rules_check(rules) = rules AS ok FROM subsidy_policies "
                     "WHERE created_by IS NULL AND name IN ('偃师区技术合同交易奖励', '岳阳市技术合同交易后补助')")
    assert len(rows) == 2 and all(r["ok"] for r in rows), rows


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


def _migration_sum(directory, name):
    """The checksum migrate records: the SQL, then each data file of NNNN_name/ by name."""
    h = hashlib.sha256((directory / name).read_bytes())
    data = directory / name[:-4]
    if data.is_dir():
        for f in sorted(data.iterdir(), key=lambda f: f.name.encode()):
            h.update(f"\n-- data file {f.name}\n".encode() + f.read_bytes())
    return h.hexdigest()


def test_data_files_are_part_of_their_migration(stack, fresh_db, migrations_copy):
    """NNNN_name/ beside NNNN_name.sql: while the migration runs its files are the rows of
    migration_files (gone after it), its checksum covers them, and a data file changed after
    it was applied is refused like a changed migration."""
    name, dsn = fresh_db
    env = {"YIZHAN_MIGRATIONS_DIR": str(migrations_copy)}
    last = migration_files(migrations_copy)[-1]
    new = f"{int(last[:4]) + 1:04d}_data_probe.sql"
    (migrations_copy / new).write_text(
        "CREATE TABLE data_probe AS SELECT name, body::jsonb AS doc FROM migration_files;\n")
    (migrations_copy / new[:-4]).mkdir()
    (migrations_copy / new[:-4] / "b.json").write_text('{"b": "第二"}\n')
    (migrations_copy / new[:-4] / "a.json").write_text('{"a": 1}\n')
    _migrate(stack, env, dsn)
    assert _rows(dsn, "SELECT name, doc FROM data_probe ORDER BY name") == [
        {"name": "a.json", "doc": {"a": 1}}, {"name": "b.json", "doc": {"b": "第二"}}]
    assert _one(dsn, "SELECT to_regclass('migration_files') IS NULL")
    sums = {r["name"]: r["checksum"] for r in _applied_migrations(dsn)}
    for f in (new, "0005_plan_seeds.sql", "0001_baseline.sql"):
        assert sums[f] == _migration_sum(migrations_copy, f), f
    assert sums[new] != _sha(migrations_copy / new)
    before = _applied_migrations(dsn)

    (migrations_copy / new[:-4] / "a.json").write_text('{"a": 2}\n')
    p = _migrate(stack, env, dsn, ok=False)
    assert p.returncode not in (0, None), f"migrate accepted a changed data file:\n{p.stdout}{p.stderr}"
    assert new in p.stdout + p.stderr, p.stdout + p.stderr
    assert _applied_migrations(dsn) == before


# ---------------------------------------------------------------- function files

def test_changed_function_file_is_reapplied(stack, fn_db):
    dsn, env, fdir = fn_db
    core = fdir / "core.sql"
    text = core.read_text()
    core.write_text(text + "\nCREATE FUNCTION test_marker() RETURNS int LANGUAGE sql AS $$ SELECT 41 $$;\n")
    before = {r["module"]: r for r in _applied_functions(dsn)}

    p = stack.run(["migrate", "status"], env=env, dsn=dsn)
    assert p.returncode == 0, p.stderr
    changed = [l for l in _status_lines(p) if l[0] != "applied"]
    assert changed == [["changed", "functions/core.sql", _sha(core), "(applied:", before["core"]["checksum"] + ")"]], \
        p.stdout
    assert _rows(dsn, "SELECT to_regproc('test_marker') IS NULL AS gone")[0]["gone"], "status applied something"

    p = _migrate(stack, env, dsn)
    assert "applied  functions/core.sql" in p.stdout, p.stdout
    assert _one(dsn, "SELECT test_marker()") == 41
    after = {r["module"]: r for r in _applied_functions(dsn)}
    assert after["core"]["checksum"] == _sha(core)
    assert _one(dsn, "SELECT module FROM schema_function_objects WHERE identity = 'test_marker()'") == "core"

    # changed in place: the new body replaces the old one
    core.write_text(text + "\nCREATE FUNCTION test_marker() RETURNS int LANGUAGE sql AS $$ SELECT 42 $$;\n")
    _migrate(stack, env, dsn)
    assert _one(dsn, "SELECT test_marker()") == 42
    # nothing else changed: the rest of the schema works (a trigger made by core.sql)
    assert _one(dsn, "UPDATE settings SET value = '31' WHERE key = 'refresh_token_days' "
                     "RETURNING (SELECT count(*) FROM pg_trigger WHERE tgname = 'users_touch')") == 1
    p = _migrate(stack, env, dsn)
    assert p.stdout.strip() == "", p.stdout


def test_function_removed_from_its_file_disappears(stack, fn_db):
    dsn, env, fdir = fn_db
    core = fdir / "core.sql"
    text = core.read_text()
    core.write_text(text + "\nCREATE FUNCTION test_gone() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;\n")
    _migrate(stack, env, dsn)
    assert _one(dsn, "SELECT test_gone()") == 1

    # the function and a trigger taken out of the file are gone from the database
    trig = "CREATE TRIGGER users_touch BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION core_touch_row();\n"
    assert trig in text
    core.write_text(text.replace(trig, ""))
    _migrate(stack, env, dsn)
    assert _one(dsn, "SELECT to_regproc('test_gone') IS NULL") is True
    assert _one(dsn, "SELECT count(*) FROM pg_trigger WHERE tgname = 'users_touch'") == 0
    assert _one(dsn, "SELECT count(*) FROM pg_trigger WHERE tgname = 'orgs_touch'") == 1
    assert _one(dsn, "SELECT count(*) FROM schema_function_objects WHERE identity IN "
                     "('test_gone()', 'users_touch ON users')") == 0

    # a whole file taken out of ORDER: its objects go, status said so first
    order = fdir / "ORDER"
    order.write_text(order.read_text().replace("\nsubsidies\n", "\n"))
    (fdir / "subsidies.sql").unlink()
    p = stack.run(["migrate", "status"], env=env, dsn=dsn)
    assert ["removed", "functions/subsidies.sql"] in [l[:2] for l in _status_lines(p)], p.stdout
    _migrate(stack, env, dsn)
    assert _one(dsn, "SELECT to_regproc('subsidy_run_create') IS NULL") is True
    assert _one(dsn, "SELECT count(*) FROM pg_trigger WHERE tgname = 'subsidy_runs_frozen'") == 0
    assert "subsidies" not in [r["module"] for r in _applied_functions(dsn)]


def test_signature_change(stack, fn_db):
    """A changed argument list or return type (which CREATE OR REPLACE cannot do) just works:
    the old function is dropped, the new one made."""
    dsn, env, fdir = fn_db
    deals = fdir / "deals.sql"
    text = deals.read_text()
    deals.write_text(text + "\nCREATE FUNCTION test_sig(a int) RETURNS int LANGUAGE sql AS $$ SELECT a $$;\n")
    _migrate(stack, env, dsn)
    assert _one(dsn, "SELECT test_sig(5)") == 5
    deals.write_text(text + "\nCREATE FUNCTION test_sig(a int, b text) RETURNS text LANGUAGE sql "
                            "AS $$ SELECT b || a $$;\n")
    _migrate(stack, env, dsn)
    assert _one(dsn, "SELECT test_sig(5, 'x')") == "x5"
    assert _one(dsn, "SELECT to_regprocedure('test_sig(integer)') IS NULL") is True
    assert _one(dsn, "SELECT identity FROM schema_function_objects WHERE identity LIKE 'test_sig(%'") == \
        "test_sig(integer,text)"


def test_serve_refuses_pending_function_file(stack, spawn, fn_db):
    dsn, env, fdir = fn_db
    core = fdir / "core.sql"
    core.write_text(core.read_text() + "\nCREATE FUNCTION test_pending_fn() RETURNS int LANGUAGE sql "
                                       "AS $$ SELECT 7 $$;\n")
    port = free_port()
    p = stack.run(["serve"], env={**env, "YIZHAN_LISTEN": f"127.0.0.1:{port}"}, dsn=dsn, timeout=15)
    assert p.returncode not in (0, None), "serve started with a changed function file"
    assert "--migrate" in p.stderr and "functions/core.sql" in p.stderr, p.stderr
    assert _one(dsn, "SELECT to_regproc('test_pending_fn') IS NULL") is True

    srv = spawn(env, args=("serve", "--migrate"), dsn=dsn, ready_timeout=60)
    assert _one(dsn, "SELECT test_pending_fn()") == 7
    r = srv.api.get("/readyz")
    assert r.status == 200, r
    assert r.body["functions"] == "current", r.body
    assert srv.api.get("/api/v1/codes/regions/511900").status == 200

    # the database's functions no longer those of the files (another release migrated) → not ready
    old = _one(dsn, "SELECT checksum FROM schema_functions WHERE module = 'core'")
    _rows(dsn, "UPDATE schema_functions SET checksum = repeat('0', 64) WHERE module = 'core'")
    try:
        r = srv.api.get("/readyz")
        body = assert_problem(r, 503)
        assert "functions" in body["detail"], body
        assert r.headers.get("Retry-After"), r
    finally:
        _rows(dsn, "UPDATE schema_functions SET checksum = %s WHERE module = 'core'", old)
    assert srv.api.get("/readyz").status == 200


def test_dependent_object_stops_the_rerun(stack, fn_db):
    """A table that uses a function of the files (here a column default) would lose it to
    DROP ... CASCADE: migrate stops and names both; nothing is changed."""
    dsn, env, fdir = fn_db
    _rows(dsn, "CREATE TABLE test_dep (d date DEFAULT today_cn())")
    before = _applied_functions(dsn)
    core = fdir / "core.sql"
    core.write_text(core.read_text() + "\n-- touched\n")
    p = _migrate(stack, env, dsn, ok=False)
    assert p.returncode not in (0, None), p.stdout
    assert "test_dep" in p.stderr and "today_cn()" in p.stderr and "versioned migration" in p.stderr, p.stderr
    assert _applied_functions(dsn) == before
    assert _one(dsn, "SELECT count(*) FROM information_schema.columns WHERE table_name = 'test_dep' "
                     "AND column_default LIKE 'today_cn()%'") == 1
    _rows(dsn, "DROP TABLE test_dep")
    _migrate(stack, env, dsn)


def test_a_file_may_not_redefine_what_another_made(stack, fn_db):
    dsn, env, fdir = fn_db
    before = _applied_functions(dsn)
    deals = fdir / "deals.sql"
    text = deals.read_text()
    # a function of core.sql made again
    deals.write_text(text + "\nCREATE OR REPLACE FUNCTION today_cn() RETURNS date LANGUAGE sql STABLE "
                            "AS $$ SELECT current_date $$;\n")
    p = _migrate(stack, env, dsn, ok=False)
    assert "deals.sql replaces function today_cn()" in p.stderr and "core.sql" in p.stderr, p.stderr
    # a function of the baseline (a CHECK constraint uses it)
    deals.write_text(text + "\nCREATE OR REPLACE FUNCTION region_prefix(code text) RETURNS text LANGUAGE sql "
                            "IMMUTABLE AS $$ SELECT code $$;\n")
    p = _migrate(stack, env, dsn, ok=False)
    assert "replaces function region_prefix(text), which a versioned migration made" in p.stderr, p.stderr
    assert _applied_functions(dsn) == before
    assert _one(dsn, "SELECT region_prefix('511900')") == "5119"


def test_function_files_must_be_listed_in_order(stack, fn_db):
    dsn, env, fdir = fn_db
    (fdir / "extra.sql").write_text("CREATE FUNCTION test_extra() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;\n")
    p = _migrate(stack, env, dsn, ok=False)
    assert p.returncode not in (0, None)
    assert "extra.sql" in p.stderr and "ORDER" in p.stderr, p.stderr
    (fdir / "ORDER").write_text((fdir / "ORDER").read_text() + "extra\n")
    _migrate(stack, env, dsn)
    assert _one(dsn, "SELECT test_extra()") == 1
    assert _applied_functions(dsn)[-1]["module"] == "extra"


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


def test_a_new_versioned_migration_recreates_the_functions(stack, fn_db):
    """A versioned migration may drop what a function file made (e.g. a trigger on a
    table it rebuilds): the function files are applied again after it, unchanged."""
    dsn, env, fdir = fn_db
    mdir = fdir.parent
    (mdir / "9990_test_rebuild.sql").write_text("DROP TRIGGER users_touch ON users;\n")
    p = _migrate(stack, env, dsn)
    assert "9990_test_rebuild.sql" in p.stdout and "functions/core.sql" in p.stdout, p.stdout
    assert _one(dsn, "SELECT count(*) FROM pg_trigger WHERE tgname = 'users_touch'") == 1


def test_concurrent_migrates_apply_each_once(stack, fresh_db, migrations_copy):
    name, dsn = fresh_db
    env = {"YIZHAN_MIGRATIONS_DIR": str(migrations_copy)}
    files = migration_files(migrations_copy)
    names = files + [f"functions/{m}.sql" for m in function_files(migrations_copy)]

    def both():
        procs = [stack.popen(["migrate"], env=env, dsn=dsn) for _ in range(2)]
        outs = []
        for p in procs:
            out, err = p.communicate(timeout=180)
            outs.append((p.returncode, out, err))
        for code, out, err in outs:
            assert code == 0, f"a concurrent migrate failed ({code}):\n{out}\n{err}"
        return outs[0][1] + outs[1][1], outs

    out, outs = both()
    assert len(_applied_migrations(dsn)) == len(files)
    for f in names:
        n = len(re.findall(r"\b" + re.escape(f) + r"\b", out))
        assert n == 1, f"{f} reported applied {n} times:\n--- 1\n{outs[0][1]}--- 2\n{outs[1][1]}"

    # a changed function file: re-applied by one of the two, once
    core = migrations_copy / "functions" / "core.sql"
    core.write_text(core.read_text() + "\n-- changed\n")
    out, outs = both()
    assert out.count("functions/core.sql") == 1, f"--- 1\n{outs[0][1]}--- 2\n{outs[1][1]}"
    assert _one(dsn, "SELECT checksum FROM schema_functions WHERE module = 'core'") == _sha(core)


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


@pytest.mark.slow  # make test-fast leaves it out: hashes at the production 600,000 iterations (~13 s at load 9)
def test_password_iterations_default_and_test_override(stack, db, api, tmp_path):
    """New hashes use 600,000 PBKDF2 iterations unless YIZHAN_PASSWORD_ITERATIONS says otherwise
    (the suites set 1,000); each hash names its count, so a 600,000 one still signs in on a server
    that makes 1,000 ones, and a value below 1,000 is refused at start."""
    pw = "Pw-default-iterations"
    pwfile = tmp_path / "pw"
    pwfile.write_text(pw)
    made = {}
    for label, it in (("default", None), ("tests", "1000")):
        email = f"iter-{label}@example.test"
        p = stack.run(["user", "create", "--email", email, "--password-file", str(pwfile), "--role", "reviewer"],
                      env={"YIZHAN_PASSWORD_ITERATIONS": it}, timeout=120)
        assert p.returncode == 0, p.stderr
        made[label] = query(db, "SELECT password_hash FROM users WHERE email = %s", email)[0]["password_hash"]
    assert made["default"].split("$")[1] == "600000", made
    assert made["tests"].split("$")[1] == "1000", made
    r = api.post("/api/v1/auth/login", {"email": "iter-default@example.test", "password": pw})
    assert r.status == 200, r.body
    r = api.post("/api/v1/auth/login", {"email": "iter-default@example.test", "password": pw + "x"})
    assert r.status == 401, r.body
    p = stack.run(["config"], env={"YIZHAN_PASSWORD_ITERATIONS": "999"})
    assert p.returncode == 2 and "YIZHAN_PASSWORD_ITERATIONS" in p.stderr, p.stderr


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
