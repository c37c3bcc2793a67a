"""Integration harness: a throwaway PostgreSQL 15 cluster, the real `yizhan` binary
(migrate, then serve), and clients that talk to it over HTTP only.

Session fixtures
  pg        the PostgreSQL cluster (PgCluster) with database `yizhan`
  stack     pg + JWT secret + keys dir + base environment; `stack.run([...])` runs the CLI
  server    the main `yizhan serve` (ServerProcess), migrated, answering /livez
  api       Api client bound to the main server
  users     factory: users.create(role=...) → dict(id, email, password, role);
            users.login(user) → token response; users.auth(user) → {"Authorization": ...}
Function fixtures
  db        psycopg2 connection (autocommit) to the main database
  raw       raw(bytes, read_timeout=3.0, wait_close=True) on the main server → RawResult
  spawn     spawn(env={...}, args=("serve",), dsn=None, wait=True, wait_db=True) → an EXTRA
            ServerProcess (waited for until /livez answers and, with wait_db, until every
            database connection is up per /metrics), always killed at teardown
  fresh_db  a new empty database on the main cluster → (name, dsn); dropped afterwards
  pg2       a second cluster (migrated `yizhan` database) that a test may stop and start

Environment knobs: YIZHAN_BIN (binary, default <repo>/build/yizhan), YIZHAN_TEST_KEEP=1
(keep temp dirs), YIZHAN_PG_BIN (default /usr/lib/postgresql/15/bin), YIZHAN_TEST_MIGRATIONS
(migrations folder to snapshot, default <repo>/migrations).
"""

import atexit
import os
import pwd
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg2
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from helpers import UNDER_VALGRIND, Api, raw_exchange  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
PG_BIN = Path(os.environ.get("YIZHAN_PG_BIN", "/usr/lib/postgresql/15/bin"))
YIZHAN_BIN = Path(os.environ.get("YIZHAN_BIN", str(REPO / "build" / "yizhan")))
KEEP = os.environ.get("YIZHAN_TEST_KEEP") == "1"
IS_ROOT = os.geteuid() == 0
MIGRATIONS_DIR = Path(os.environ.get("YIZHAN_TEST_MIGRATIONS", str(REPO / "migrations")))

_CLEANUPS = []          # callables run at exit as a last resort
_ACTIVE_SERVERS = []    # servers whose stderr tail is attached to a failing test's report


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_MIGRATIONS_SNAPSHOT = []


def migrations_dir():
    """A copy of <repo>/migrations taken once per run, used as YIZHAN_MIGRATIONS_DIR by every
    process the tests start: a file added to the repo while the suite runs (other people at
    work) must not turn into a 'pending migration' halfway through."""
    if not _MIGRATIONS_SNAPSHOT:
        root = Path(tempfile.mkdtemp(prefix="yizhan-migrations-"))
        _CLEANUPS.append(lambda: shutil.rmtree(root, ignore_errors=True))
        shutil.copytree(MIGRATIONS_DIR, root / "migrations")
        _MIGRATIONS_SNAPSHOT.append(root / "migrations")
    return _MIGRATIONS_SNAPSHOT[0]


def migration_files(directory=None):
    """The versioned migrations (NNNN_name.sql), in order."""
    directory = directory or migrations_dir()
    return sorted(p.name for p in Path(directory).glob("*.sql") if p.name[:4].isdigit())


def function_files(directory=None):
    """The function files' modules as migrations/functions/ORDER lists them (core, audit, ...)."""
    directory = Path(directory or migrations_dir())
    order = directory / "functions" / "ORDER"
    return [ln.split("#")[0].strip() for ln in order.read_text().splitlines() if ln.split("#")[0].strip()]


def pytest_configure(config):
    # `timeout` and CI runners stop a run with SIGTERM: turn it into KeyboardInterrupt so
    # pytest still runs the finalizers (PostgreSQL stopped, servers killed, dirs removed).
    def on_term(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")
    try:
        signal.signal(signal.SIGTERM, on_term)
    except ValueError:  # not the main thread
        pass


# A test with a server, a cluster or a database of its own pays seconds for it:
# it is slow (make test-fast leaves slow tests out).  Tests slow for another
# reason (a timeout waited out, a flood, a generated sweep) carry the marker.
SLOW_FIXTURES = {"spawn", "pg2", "fresh_db"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@atexit.register
def _last_resort_cleanup():
    for fn in reversed(_CLEANUPS):
        try:
            fn()
        except Exception:
            pass


# --------------------------------------------------------------------------------------
# PostgreSQL
# --------------------------------------------------------------------------------------

class PgCluster:
    """A private PostgreSQL cluster: Unix socket only, in its own temp dir."""

    def __init__(self, name="pg"):
        self.dir = Path(tempfile.mkdtemp(prefix=f"yizhan-{name}-"))
        self.data = self.dir / "data"
        self.log = self.dir / "postgres.log"
        self.port = free_port()
        self.running = False
        if IS_ROOT:
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        _CLEANUPS.append(self.cleanup)

    def _run(self, *args, timeout=120, check=True):
        cmd = [str(PG_BIN / args[0]), *args[1:]]
        if IS_ROOT:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        p = subprocess.run(cmd, cwd=self.dir, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=timeout)
        if check and p.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stdout.decode(errors='replace')}"
                               f"\n{self.log_tail()}")
        return p

    def init(self):
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-E", "UTF8", "--locale=C.UTF-8",
                  "-A", "trust", "--no-sync")
        return self

    def start(self):
        opts = (f"-c listen_addresses='' -k {shlex.quote(str(self.dir))} -p {self.port} "
                f"-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        self._run("pg_ctl", "start", "-w", "-t", "60", "-D", str(self.data), "-l", str(self.log), "-o", opts)
        self.running = True
        return self

    def stop(self, mode="immediate"):
        if self.data.exists():
            self._run("pg_ctl", "stop", "-w", "-t", "60", "-D", str(self.data), "-m", mode, check=False)
        self.running = False

    def dsn(self, dbname="yizhan"):
        return f"host={self.dir} port={self.port} dbname={dbname} user=postgres"

    def connect(self, dbname="yizhan", autocommit=True):
        conn = psycopg2.connect(host=str(self.dir), port=self.port, dbname=dbname, user="postgres",
                                connect_timeout=10)
        conn.autocommit = autocommit
        return conn

    def create_database(self, name):
        conn = self.connect("postgres")
        try:
            with conn.cursor() as cur:
                cur.execute(f'CREATE DATABASE "{name}"')
        finally:
            conn.close()

    def drop_database(self, name):
        conn = self.connect("postgres")
        try:
            with conn.cursor() as cur:
                cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            conn.close()

    def log_tail(self, n=30):
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def cleanup(self):
        if self.running:
            self.stop("immediate")
        if KEEP:
            print(f"\n[yizhan tests] kept PostgreSQL dir {self.dir}", file=sys.stderr)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)


# --------------------------------------------------------------------------------------
# yizhan processes
# --------------------------------------------------------------------------------------

class ServerProcess:
    """One `yizhan serve` process; stderr (JSON log lines) goes to a file."""

    def __init__(self, env, args, workdir, label):
        self.env = env
        self.args = list(args)
        self.label = label
        self.port = int(env["YIZHAN_LISTEN"].rsplit(":", 1)[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = Path(workdir) / f"{label}.stderr.log"
        self.out_path = Path(workdir) / f"{label}.stdout.log"
        self.proc = None
        self._api = None

    def start(self):
        with open(self.log_path, "ab") as err, open(self.out_path, "ab") as out:
            self.proc = subprocess.Popen([str(binary()), *self.args], env=self.env, cwd=REPO,
                                         stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        _CLEANUPS.append(self.kill)
        return self

    @property
    def api(self):
        if self._api is None:
            self._api = Api(self.url)
        return self._api

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def wait_ready(self, timeout=15.0):
        import http.client
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"{self.label} exited with code {self.proc.returncode} before answering "
                                   f"/livez; stderr tail:\n{self.log_tail()}")
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                c.request("GET", "/livez")
                r = c.getresponse()
                r.read()
                c.close()
                if r.status == 200:
                    return self
                last = f"status {r.status}"
            except OSError as e:
                last = repr(e)
            time.sleep(0.1)
        raise RuntimeError(f"{self.label} did not answer GET /livez with 200 within {timeout}s ({last}); "
                           f"stderr tail:\n{self.log_tail()}")

    def wait_db(self, timeout=15.0):
        """Wait until every database connection of every worker is up (per /metrics), so
        that a DB-backed request cannot land on a worker still connecting."""
        from helpers import parse_prometheus
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                r = self.api.get("/metrics", timeout=2)
                if r.status == 200:
                    m = parse_prometheus(r.content.decode(), strict=False)
                    up = m.value("yizhan_db_connections", state="up")
                    down = m.value("yizhan_db_connections", state="down")
                    last = f"up={up} down={down}"
                    if up >= 1 and down == 0:
                        return self
                else:
                    last = f"/metrics status {r.status}"
            except Exception as e:  # noqa: BLE001
                last = repr(e)
            time.sleep(0.1)
        raise RuntimeError(f"{self.label}: database connections not all up within {timeout}s ({last}); "
                           f"stderr tail:\n{self.log_tail()}")

    def raw(self, data, read_timeout=3.0, wait_close=True, **kw):
        return raw_exchange(self.port, data, read_timeout=read_timeout, wait_close=wait_close, **kw)

    def log_text(self):
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, n=40):
        return "\n".join(self.log_text().splitlines()[-n:])

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=10.0):
        """SIGTERM, then SIGKILL after timeout. Returns the exit code."""
        if not self.alive():
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def kill(self):
        if self._api is not None:
            self._api.close()
        if self.alive():
            self.proc.kill()
            self.proc.wait()


class Stack:
    """Everything a yizhan process needs: database, secret, keys, environment."""

    def __init__(self, pg):
        self.pg = pg
        self.workdir = Path(tempfile.mkdtemp(prefix="yizhan-test-"))
        _CLEANUPS.append(self.cleanup)
        self.secret_file = self.workdir / "jwt.secret"
        fd = os.open(self.secret_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, secrets.token_bytes(48))
        os.close(fd)
        self.keys_dir = self.workdir / "keys"
        self.keys_dir.mkdir(mode=0o700)
        self._n = 0

    def env(self, overrides=None, dsn=None):
        env = {k: v for k, v in os.environ.items() if not k.startswith("YIZHAN_")}
        env.update({
            "YIZHAN_DATABASE_URL": dsn or self.pg.dsn(),
            "YIZHAN_LISTEN": f"127.0.0.1:{free_port()}",
            "YIZHAN_THREADS": "2",
            "YIZHAN_JWT_SECRET_FILE": str(self.secret_file),
            "YIZHAN_SIGNING_KEY_DIR": str(self.keys_dir),
            "YIZHAN_WEB_ROOT": str(REPO / "web"),
            "YIZHAN_API_SPEC": str(REPO / "api" / "openapi.yaml"),
            "YIZHAN_MIGRATIONS_DIR": str(migrations_dir()),
            # the webhook tests deliver to receivers on 127.0.0.1
            "YIZHAN_WEBHOOK_ALLOW_PRIVATE": "true",
            # every client of the tests is 127.0.0.1, and some open thousands of connections
            # (test_abuse); the per-address cap is tested on servers of its own (test_abuse)
            "YIZHAN_MAX_CONNS_PER_CLIENT": "0",
            # brotli 5, not 11: the tests check the compressed forms, not their last 10 %, and 11 costs
            # ~5 s of CPU per server start (test_compression.py)
            "YIZHAN_STATIC_BROTLI_QUALITY": "5",
            # PBKDF2 at 1,000 iterations, not 600,000: every test user is hashed by the CLI and
            # again at each sign-in (0.3 s of CPU each at the default); the hash records its count,
            # so verification is the same code (test_auth_login.py checks the default separately)
            "YIZHAN_PASSWORD_ITERATIONS": "1000",
        })
        for k, v in (overrides or {}).items():
            if v is None:
                env.pop(k, None)
            else:
                env[k] = str(v)
        return env

    def run(self, args, env=None, dsn=None, timeout=60, input=None):
        """Run the CLI; returns CompletedProcess (text). On timeout the process is killed
        and returncode is None."""
        require_binary()
        e = self.env(env, dsn)
        try:
            return subprocess.run([str(binary()), *args], env=e, cwd=REPO, input=input,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  errors="replace", timeout=timeout)
        except subprocess.TimeoutExpired as ex:
            def s(x):
                return x.decode(errors="replace") if isinstance(x, bytes) else (x or "")
            return subprocess.CompletedProcess(ex.cmd, None, s(ex.stdout), s(ex.stderr))

    def popen(self, args, env=None, dsn=None):
        require_binary()
        p = subprocess.Popen([str(binary()), *args], env=self.env(env, dsn), cwd=REPO,
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, errors="replace")
        _CLEANUPS.append(lambda: p.poll() is None and p.kill())
        return p

    def new_server(self, env=None, args=("serve",), dsn=None, label=None):
        require_binary()
        self._n += 1
        label = label or f"extra{self._n}"
        return ServerProcess(self.env(env, dsn), args, self.workdir, label)

    def cleanup(self):
        if KEEP:
            print(f"\n[yizhan tests] kept work dir {self.workdir}", file=sys.stderr)
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)


_BINARY_SNAPSHOT = []


def require_binary():
    if not _BINARY_SNAPSHOT and not (YIZHAN_BIN.is_file() and os.access(YIZHAN_BIN, os.X_OK)):
        pytest.fail(f"yizhan binary not found at {YIZHAN_BIN} (run `make`, or set YIZHAN_BIN)", pytrace=False)


def binary():
    """A copy of YIZHAN_BIN taken at first use: every process of one run is the same build,
    even when `make` replaces build/yizhan while the suite runs."""
    if not _BINARY_SNAPSHOT:
        require_binary()
        root = Path(tempfile.mkdtemp(prefix="yizhan-bin-"))
        _CLEANUPS.append(lambda: shutil.rmtree(root, ignore_errors=True))
        dst = root / "yizhan"
        shutil.copy2(YIZHAN_BIN, dst)
        _BINARY_SNAPSHOT.append(dst)
    return _BINARY_SNAPSHOT[0]


def migrate_or_fail(stack, dsn=None, mdir=None):
    env = {"YIZHAN_MIGRATIONS_DIR": str(mdir)} if mdir else None
    p = stack.run(["migrate"], env=env, dsn=dsn, timeout=180)
    if p.returncode != 0:
        pytest.fail(f"`yizhan migrate` failed ({p.returncode}):\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}",
                    pytrace=False)
    return p


# --------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def pg(request):
    cluster = PgCluster("pg")
    request.addfinalizer(cluster.cleanup)
    cluster.init().start()
    cluster.create_database("yizhan")
    return cluster


@pytest.fixture(scope="session")
def stack(pg):
    return Stack(pg)


@pytest.fixture(scope="session")
def migrated(stack):
    require_binary()
    return migrate_or_fail(stack)


_MAIN = {}


@pytest.fixture(scope="session")
def server(request, stack, migrated):
    srv = stack.new_server(label="main")
    _MAIN["server"] = srv
    _ACTIVE_SERVERS.append(srv)

    def fin():
        srv.stop(timeout=60 if UNDER_VALGRIND else 10)
        srv.kill()
    request.addfinalizer(fin)
    spec = REPO / "api" / "openapi.yaml"
    srv.spec_at_start = spec.read_bytes() if spec.exists() else None
    srv.start()
    err = None
    try:
        srv.wait_ready(15)
        srv.wait_db(15)
    except RuntimeError as e:
        err = str(e)
    if err:
        pytest.fail(err, pytrace=False)
    return srv


@pytest.fixture(autouse=True)
def _main_server_survives(request):
    """If the main server dies during a test, say so (on that test) and restart it."""
    yield
    srv = _MAIN.get("server")
    if srv is not None and not srv.alive():
        code = srv.proc.returncode
        tail = srv.log_tail(40)
        srv.start()
        try:
            srv.wait_ready(15)
        except RuntimeError:
            pass
        pytest.fail(f"the main yizhan server died during this test (exit code {code}); restarted it.\n"
                    f"stderr tail:\n{tail}", pytrace=False)


@pytest.fixture(scope="session")
def api(server):
    return server.api


@pytest.fixture
def raw(server):
    def _raw(data, read_timeout=3.0, wait_close=True, **kw):
        return raw_exchange(server.port, data, read_timeout=read_timeout, wait_close=wait_close, **kw)
    return _raw


@pytest.fixture(scope="session")
def _db_conn(pg, migrated):
    conn = pg.connect("yizhan")
    yield conn
    conn.close()


@pytest.fixture
def db(_db_conn):
    return _db_conn


@pytest.fixture
def spawn(stack, migrated):
    started = []

    def _spawn(env=None, args=("serve",), dsn=None, wait=True, label=None, ready_timeout=15, wait_db=True):
        srv = stack.new_server(env, args, dsn, label)
        started.append(srv)
        _ACTIVE_SERVERS.append(srv)
        srv.start()
        err = None
        if wait:
            try:
                srv.wait_ready(ready_timeout)
                if wait_db:
                    srv.wait_db(15)
            except RuntimeError as e:
                err = str(e)
        if err:
            pytest.fail(err, pytrace=False)
        return srv

    yield _spawn
    for srv in started:
        # SIGTERM first, so that a server under valgrind reaches its leak check
        # at exit (tests/valgrind.sh); SIGKILL if it does not exit in time
        srv.stop(timeout=60 if UNDER_VALGRIND else 5)
        srv.kill()
        if srv in _ACTIVE_SERVERS:
            _ACTIVE_SERVERS.remove(srv)


@pytest.fixture
def fresh_db(pg):
    name = "yizhan_t_" + uuid.uuid4().hex[:10]
    pg.create_database(name)
    yield name, pg.dsn(name)
    pg.drop_database(name)


@pytest.fixture
def migrations_copy(tmp_path):
    dst = tmp_path / "migrations"
    shutil.copytree(migrations_dir(), dst)
    return dst


@pytest.fixture
def pg2(request, stack):
    """A second cluster with a migrated `yizhan` database, for tests that stop PostgreSQL."""
    require_binary()
    cluster = PgCluster("pg2")
    request.addfinalizer(cluster.cleanup)
    cluster.init().start()
    cluster.create_database("yizhan")
    migrate_or_fail(stack, dsn=cluster.dsn())
    return cluster


class Users:
    """Creates users with `yizhan user create` and logs them in over HTTP."""

    def __init__(self, stack, api):
        self.stack = stack
        self.api = api
        self._tokens = {}

    def create(self, role="reviewer", email=None, password=None, org=None, office=None, region=None,
               expect_ok=True, name=None):
        email = email or f"{role}-{uuid.uuid4().hex[:12]}@example.test"
        password = password or "Pw-" + secrets.token_urlsafe(12)
        pwfile = self.stack.workdir / f"pw-{uuid.uuid4().hex[:8]}"
        fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, password.encode())
        os.close(fd)
        args = ["user", "create", "--email", email, "--password-file", str(pwfile), "--role", role]
        if org is not None:
            args += ["--org", str(org)]
        if office is not None:
            args += ["--office", str(office)]
        if region is not None:
            args += ["--region", str(region)]
        if name is not None:
            args += ["--name", name]
        p = self.stack.run(args, timeout=60)
        pwfile.unlink()
        if not expect_ok:
            return p
        if p.returncode != 0:
            pytest.fail(f"`yizhan {' '.join(args)}` failed ({p.returncode}): {p.stdout}\n{p.stderr}",
                        pytrace=False)
        lines = [ln.strip() for ln in p.stdout.splitlines() if ln.strip()]
        assert lines, f"`yizhan user create` printed no id (stderr: {p.stderr})"
        return {"id": lines[-1], "email": email, "password": password, "role": role,
                "org": org, "office": office, "region": region}

    def login(self, user):
        body = {"email": user["email"], "password": user["password"]}
        r = self.api.post("/api/v1/auth/login", json=body)
        if r.status == 429 and "login_limit_per_ip" in self._limited_keys():
            # Every client of the suite is 127.0.0.1: a fast run signs in more than the 30 a minute one
            # address may.  The limit itself is the subject of test_rate_limits.py; here start its window
            # afresh rather than wait for it.
            self._sql("DELETE FROM rate_limits WHERE key LIKE 'login_limit_per_ip:%%'")
            r = self.api.post("/api/v1/auth/login", json=body)
        assert r.status == 200, f"login of {user['email']} failed: {r!r}"
        self._tokens[user["email"]] = r.body
        return r.body

    def _sql(self, sql):
        conn = self.stack.pg.connect()
        try:
            with conn.cursor() as cur:
                cur.execute(sql)
                return cur.fetchall() if cur.description else []
        finally:
            conn.close()

    def _limited_keys(self):
        """The rate limits (settings keys) some key is over right now."""
        return {row[0] for row in self._sql(
            "SELECT split_part(r.key, ':', 1) FROM rate_limits r JOIN settings s"
            " ON s.key = split_part(r.key, ':', 1) WHERE r.hits > (s.value->>'max')::int")}

    def token(self, user):
        if user["email"] not in self._tokens:
            self.login(user)
        return self._tokens[user["email"]]["access_token"]

    def auth(self, user):
        return {"Authorization": f"Bearer {self.token(user)}"}


@pytest.fixture(scope="session")
def users(stack, api):
    return Users(stack, api)


# --------------------------------------------------------------------------------------
# Reporting: attach server stderr tails to failing tests
# --------------------------------------------------------------------------------------

@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed and rep.when in ("setup", "call"):
        for srv in list(_ACTIVE_SERVERS):
            tail = srv.log_tail(25)
            if tail:
                rep.sections.append((f"{srv.label} yizhan stderr (last 25 lines)", tail))
