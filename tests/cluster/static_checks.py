#!/usr/bin/env python3
"""Static checks of the deployment files, for tests/cluster/run.sh.

There is no Docker engine (and no hadolint) on the machines this runs on, so
these read the files and check what a build or `docker compose up` would trip
over first.  Usage:

  static_checks.py compose CONFIG_OUTPUT ROOT MIRROR BIN   docker-compose.yml as `config` resolved it
  static_checks.py dockerfile-copy ROOT                    COPY sources exist and survive .dockerignore
  static_checks.py dockerfile-shape ROOT                   stages, base images, user, packages
  static_checks.py dockerfile-libs ROOT BIN                runtime packages cover every linked library
  static_checks.py compose-argv CONFIG_OUTPUT SERVICE healthcheck|entrypoint   the command, NUL-separated

Prints what is wrong, one line each; exit 1 when anything is.
"""
import json
import os
import re
import shlex
import subprocess
import sys

problems = []


def bad(msg):
    problems.append(msg)
    print(f"      {msg}")


# --------------------------------------------------------------------- Dockerfile

def dockerfile_instructions(path):
    """[(stage_index, INSTRUCTION, args_text)] with continuation lines joined."""
    out, stage, buf = [], -1, ""
    for raw in open(path, encoding="utf-8"):
        line = raw.rstrip("\n")
        if not buf and (line.lstrip().startswith("#") or not line.strip()):
            continue
        if line.lstrip().startswith("#"):      # comment inside a continued instruction
            continue
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        buf += line
        word, _, rest = buf.strip().partition(" ")
        word = word.upper()
        if word == "FROM":
            stage += 1
        out.append((stage, word, rest.strip()))
        buf = ""
    return out


def copy_sources(args):
    """Sources and flags of a COPY/ADD instruction (shell or JSON form)."""
    flags = {}
    if args.startswith("["):
        parts = json.loads(args)
    else:
        parts = shlex.split(args)
        while parts and parts[0].startswith("--"):
            k, _, v = parts.pop(0)[2:].partition("=")
            flags[k] = v
    return parts[:-1], parts[-1], flags


def dockerignore_patterns(root):
    pats = []
    path = os.path.join(root, ".dockerignore")
    if not os.path.exists(path):
        return pats
    for line in open(path, encoding="utf-8"):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        excl = line.startswith("!")
        if excl:
            line = line[1:].strip()
        line = os.path.normpath(line.lstrip("/")) if line not in ("", "/") else "."
        pats.append((excl, re.compile(glob_regex(line))))
    return pats


def glob_regex(pat):
    """Go filepath.Match as Docker's patternmatcher extends it (** crosses /)."""
    i, out = 0, "^"
    while i < len(pat):
        c = pat[i]
        if pat.startswith("**/", i):
            out += "(.*/)?"
            i += 3
            continue
        if pat.startswith("**", i):
            out += ".*"
            i += 2
            continue
        if c == "*":
            out += "[^/]*"
        elif c == "?":
            out += "[^/]"
        elif c == "[":
            j = pat.find("]", i)
            if j < 0:
                out += re.escape(c)
            else:
                out += "[" + pat[i + 1:j].replace("!", "^", 1) + "]"
                i = j
        else:
            out += re.escape(c)
        i += 1
    return out + "$"


def ignored(pats, rel):
    """moby/patternmatcher MatchesOrParentMatches."""
    matched = False
    parents = os.path.dirname(rel).split("/") if os.path.dirname(rel) else []
    for excl, rx in pats:
        if excl != matched:
            continue
        m = bool(rx.match(rel))
        if not m:
            for i in range(len(parents)):
                if rx.match("/".join(parents[: i + 1])):
                    m = True
                    break
        if m:
            matched = not excl
    return matched


def check_dockerfile_copy(root):
    ins = dockerfile_instructions(os.path.join(root, "deploy/Dockerfile"))
    stages = [re.split(r"\s+as\s+", a, flags=re.I)[-1] if re.search(r"\s+as\s+", a, re.I) else str(s)
              for s, w, a in ins if w == "FROM"]
    pats = dockerignore_patterns(root)
    n = 0
    for stage, word, args in ins:
        if word not in ("COPY", "ADD"):
            continue
        srcs, _, flags = copy_sources(args)
        if "from" in flags:
            if flags["from"] not in stages[:stage]:
                bad(f"COPY --from={flags['from']}: no earlier stage of that name")
            continue
        for src in srcs:
            n += 1
            rel = os.path.normpath(src)
            full = os.path.join(root, rel)
            if not os.path.exists(full):
                bad(f"COPY {src}: does not exist in the build context")
                continue
            files = [rel] if os.path.isfile(full) else [
                os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(full) for f in fs]
            kept = [f for f in files if not ignored(pats, f)]
            if not kept:
                bad(f"COPY {src}: excluded by .dockerignore")
            # source files the server needs must never be filtered out
            lost = [f for f in files if f not in kept and re.search(r"\.(c|h|sql|html|js|css|yaml|svg)$", f)]
            if lost:
                bad(f"COPY {src}: .dockerignore drops {len(lost)} needed files, e.g. {lost[0]}")
    if n == 0:
        bad("no COPY from the build context at all")
    # and what must stay out, does
    for secret in (".env", "var/jwt.secret", "var/demo-password", "build/yizhan", "web/node_modules/x.js"):
        if not ignored(pats, secret):
            bad(f".dockerignore lets {secret} into the build context")


def final_stage_packages(ins, stage):
    pk = []
    for s, w, a in ins:
        if s == stage and w == "RUN" and "apt-get install" in a:
            seg = a.split("apt-get install", 1)[1].split("&&")[0]
            pk += [t for t in seg.split() if not t.startswith("-")]
    return pk


def check_dockerfile_shape(root):
    ins = dockerfile_instructions(os.path.join(root, "deploy/Dockerfile"))
    froms = [a for s, w, a in ins if w == "FROM"]
    if len(froms) < 2:
        bad(f"expected a multi-stage build, found {len(froms)} FROM")
    for a in froms:
        img = a.split()[0]
        if not re.match(r"(docker\.io/)?(library/)?debian:(12|bookworm)", img):
            bad(f"FROM {img}: not Debian 12")
    last = len(froms) - 1
    users = [a for s, w, a in ins if s == last and w == "USER"]
    if not users or users[-1].split(":")[0] in ("root", "0"):
        bad("the final stage does not switch to a non-root USER")
    run_pk = final_stage_packages(ins, last)
    if not run_pk:
        bad("the final stage installs no runtime libraries")
    for p in run_pk:
        if p.endswith("-dev") or p in ("build-essential", "gcc", "make", "pkg-config", "cc"):
            bad(f"final stage installs build-time package {p}")
    build_pk = set(final_stage_packages(ins, 0))
    deps = open(os.path.join(root, "deploy/local/deps.sh"), encoding="utf-8").read()
    for p in sorted(set(re.findall(r"\b(lib[a-z0-9.+-]*-dev)\b", deps))):
        if p not in build_pk:
            bad(f"build stage lacks {p}, which deploy/local/deps.sh installs for `make`")
    if not any(w in ("ENTRYPOINT", "CMD") for s, w, a in ins if s == last):
        bad("final stage has no ENTRYPOINT/CMD")
    exposes = [a for s, w, a in ins if s == last and w == "EXPOSE"]
    listen = re.search(r"YIZHAN_LISTEN=\S*:(\d+)", " ".join(a for s, w, a in ins if s == last and w == "ENV"))
    if not exposes or not listen or listen.group(1) not in exposes[0].split():
        bad("EXPOSE and the ENV YIZHAN_LISTEN port disagree")
    for need in ("web", "api/openapi.yaml", "migrations"):
        if not any(w == "COPY" and re.search(rf"(^|\s){re.escape(need)}/?\s", a) for s, w, a in ins if s == last):
            bad(f"final stage does not COPY {need} (the server reads it at run time)")


def check_dockerfile_libs(root, binary):
    ins = dockerfile_instructions(os.path.join(root, "deploy/Dockerfile"))
    last = max(s for s, w, a in ins)
    run_pk = final_stage_packages(ins, last)
    # one apt-cache call for all: the names must be Debian 12's
    r = subprocess.run(["apt-cache", "show", "--no-all-versions", *run_pk], capture_output=True, text=True)
    known = set(re.findall(r"^Package: (\S+)", r.stdout, re.M))
    for p in run_pk:
        if p not in known:
            bad(f"package {p} is not in Debian's lists here (apt-cache show); wrong name for Debian 12?")
    r = subprocess.run(["apt-cache", "depends", "--recurse", "--no-recommends", "--no-suggests", "--no-conflicts",
                        "--no-breaks", "--no-replaces", "--no-enhances", *[p for p in run_pk if p in known]],
                       capture_output=True, text=True)
    closure = {line.strip().split(":")[0] for line in r.stdout.splitlines() if line and not line[0].isspace()}
    closure |= set(run_pk)
    ldd = subprocess.run(["ldd", binary], capture_output=True, text=True).stdout
    libs = re.findall(r"=>\s+(/\S+)", ldd)
    # which package owns each library (usr-merged: ask for every spelling at once)
    spellings = {}
    for lib in libs:
        for cand in {lib, os.path.realpath(lib), lib.replace("/lib/", "/usr/lib/", 1),
                     lib.replace("/usr/lib/", "/lib/", 1)}:
            spellings[cand] = lib
    q = subprocess.run(["dpkg", "-S", *spellings], capture_output=True, text=True).stdout
    owner = {}
    for line in q.splitlines():
        pkgs, _, path = line.partition(": ")
        if path in spellings:
            owner[spellings[path]] = pkgs.split(",")[0].split(":")[0].strip()
    owners = sorted(set(owner.values()))
    q = subprocess.run(["dpkg-query", "-W", "-f=${Package} ${Priority} ${Essential}\n", *owners],
                       capture_output=True, text=True).stdout
    base = {l.split()[0] for l in q.splitlines() if " required" in l or l.endswith(" yes")}
    for lib in libs:
        if lib not in owner:
            bad(f"{lib}: no Debian package owns it (built against a library outside apt?)")
        elif owner[lib] not in closure and owner[lib] not in base:
            bad(f"{os.path.basename(lib)} (package {owner[lib]}) is linked but not installed in the final stage")
    if not problems:
        print(f"      {len(run_pk)} runtime packages cover the {len(libs)} libraries {os.path.basename(binary)} links")


# ------------------------------------------------------------------------ compose

KNOWN_NON_OPTIONS = {"YIZHAN_JWT_SECRET", "YIZHAN_ADMIN_EMAIL", "YIZHAN_ADMIN_PASSWORD", "YIZHAN_HTTP_PORT",
                     "YIZHAN_CONFIG_FILE"}


def yizhan_options(binary):
    out = subprocess.run([binary, "config"], capture_output=True, text=True).stdout
    return set(re.findall(r"^(YIZHAN_[A-Z0-9_]+)", out, re.M)) | KNOWN_NON_OPTIONS


def check_compose(cfg_path, root, mirror, binary):
    try:
        import yaml
    except ImportError:
        bad("python3-yaml is missing; cannot read the resolved compose file")
        return
    cfg = yaml.safe_load(open(cfg_path, encoding="utf-8"))
    svcs = cfg.get("services", {})
    for need in ("postgres", "init", "yizhan1", "yizhan2", "nginx"):
        if need not in svcs:
            bad(f"no service {need}")
    opts = yizhan_options(binary)

    def real(p):
        p = p if os.path.isabs(p) else os.path.join(mirror, p)
        return os.path.realpath(p)

    for name, s in svcs.items():
        b = s.get("build")
        if b:
            ctx = b if isinstance(b, str) else b.get("context", ".")
            df = "Dockerfile" if isinstance(b, str) else b.get("dockerfile", "Dockerfile")
            if not os.path.isdir(real(ctx)):
                bad(f"{name}: build context {ctx} missing")
            elif not os.path.isfile(os.path.join(real(ctx), df)):
                bad(f"{name}: {df} missing in the build context")
        for v in s.get("volumes", []):
            if isinstance(v, dict):
                typ, src = v.get("type"), v.get("source")
            else:
                src = v.split(":")[0]
                typ = "bind" if src.startswith((".", "/")) else "volume"
            if typ == "bind" and not os.path.exists(real(src)):
                bad(f"{name}: bind mount source {src} does not exist")
            if typ == "volume" and src and src not in (cfg.get("volumes") or {}):
                bad(f"{name}: volume {src} is not declared")
        for f in s.get("env_file", []) or []:
            f = f if isinstance(f, str) else f.get("path")
            if not os.path.exists(real(f)):
                bad(f"{name}: env_file {f} missing")
        env = s.get("environment") or {}
        names = env.keys() if isinstance(env, dict) else [e.split("=")[0] for e in env]
        for k in names:
            if k.startswith("YIZHAN_") and k not in opts:
                bad(f"{name}: {k} is not a yizhan option (yizhan config); it would be ignored silently")
        hc = s.get("healthcheck") or {}
        if name != "init" and (not hc or hc.get("disable")):
            bad(f"{name}: no health check")
        for dep, d in (s.get("depends_on") or {}).items():
            if dep not in svcs:
                bad(f"{name}: depends on unknown service {dep}")
    for k in ("yizhan1", "yizhan2"):
        deps = (svcs.get(k) or {}).get("depends_on") or {}
        if (deps.get("postgres") or {}).get("condition") != "service_healthy":
            bad(f"{k}: does not wait for a healthy postgres")
        if (deps.get("init") or {}).get("condition") != "service_completed_successfully":
            bad(f"{k}: does not wait for init (migrations, keys)")
    ng = svcs.get("nginx") or {}
    ports = [str(p.get("published")) + ":" + str(p.get("target")) if isinstance(p, dict) else str(p)
             for p in ng.get("ports", [])]
    if not any(p.endswith(":8080") and p.startswith("8080") for p in ports):
        bad(f"nginx does not publish 8080 (ports: {ports})")
    # the upstream in deploy/nginx.conf names the compose services and their port
    conf = open(os.path.join(root, "deploy/nginx.conf"), encoding="utf-8").read()
    block = conf.split("# BEGIN instances", 1)[1].split("# END instances", 1)[0]
    for host, port in re.findall(r"^\s*server\s+([\w.-]+):(\d+)", block, re.M):
        listen = ((svcs.get(host) or {}).get("environment") or {}).get("YIZHAN_LISTEN", "")
        if host not in svcs:
            bad(f"deploy/nginx.conf upstream names {host}, which is no compose service")
        elif not listen.endswith(":" + port):
            bad(f"deploy/nginx.conf sends to {host}:{port}, but it listens on {listen}")
    # every YIZHAN_* name in env.example and yizhan.service is a real option
    for f in ("deploy/env.example", "deploy/yizhan.service"):
        for k in re.findall(r"(?:^|[#\s=])(YIZHAN_[A-Z0-9_]+)=", open(os.path.join(root, f), encoding="utf-8").read()):
            if k not in opts:
                bad(f"{f}: {k} is not a yizhan option (yizhan config)")


def compose_argv(cfg_path, service, field):
    """Print a service's healthcheck test or entrypoint + command, each
    argument followed by NUL, with compose's $$ escapes undone: what the
    container would run."""
    import yaml
    s = yaml.safe_load(open(cfg_path, encoding="utf-8"))["services"][service]
    if field == "healthcheck":
        argv = s["healthcheck"]["test"]
        argv = argv[1:] if argv[0] in ("CMD", "CMD-SHELL") else argv
    else:
        argv = (s.get("entrypoint") or []) + (s.get("command") or [])
    sys.stdout.write("".join(a.replace("$$", "$") + "\0" for a in argv))


def main():
    mode = sys.argv[1]
    if mode == "compose-argv":
        compose_argv(*sys.argv[2:5])
        return
    if mode == "compose":
        check_compose(*sys.argv[2:6])
    elif mode == "dockerfile-copy":
        check_dockerfile_copy(sys.argv[2])
    elif mode == "dockerfile-shape":
        check_dockerfile_shape(sys.argv[2])
    elif mode == "dockerfile-libs":
        check_dockerfile_libs(sys.argv[2], sys.argv[3])
    else:
        sys.exit(f"unknown mode {mode}")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
