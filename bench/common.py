"""What the benchmark runners (bench/run.py, bench/iqs.py, bench/fanout.py) share: their
command line's basics, the set-up of a private stack from tests/integration/harness.py
(accounts, the database after its data is in, hippod), running a load driver for its
RESULT line, and CPU accounting from /proc. Not a benchmark itself."""

import argparse
import json
import os
import resource
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOMAIN = "example.test"
PASSWORD = "pw"


def arg_parser(doc, build_help):
    """A parser whose description is DOC's first paragraph and epilog the rest, with
    --build (BUILD_HELP says which binaries it must hold)."""
    p = argparse.ArgumentParser(description=doc.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=doc.split("\n\n", 1)[1])
    p.add_argument("--build", default=os.path.join(REPO, "build"),
                   help=f"meson build dir with {build_help} (%(default)s)")
    p.add_argument("--unsafe-fast-db", action="store_true",
                   help="PostgreSQL on tmpfs with fsync, full_page_writes and "
                        "synchronous_commit off (NOT durable; default: on disk, all on)")
    return p


def db_mode(a):
    """The label of A's PostgreSQL settings, printed with every figure."""
    return "UNSAFE fast db (tmpfs, fsync off)" if a.unsafe_fast_db else \
        "durable db (disk, fsync on, synchronous_commit on)"


def postgres(stack, a):
    """STACK's PostgreSQL as A asks: durable (on disk, flushed) unless --unsafe-fast-db."""
    return stack.postgres(durable=not a.unsafe_fast_db)


def harness_module(a):
    """Points the harness at build A.build (made absolute), keeps the stacks' directories
    with A.keep_logs, lifts the fd limit (the servers inherit it); returns the harness
    module."""
    a.build = os.path.abspath(a.build)
    os.environ.setdefault("HIPPOD", os.path.join(a.build, "hippod"))
    os.environ.setdefault("HIPPOCTL", os.path.join(a.build, "hippoctl"))
    os.environ.setdefault("SRCDIR", REPO)
    if a.keep_logs:
        os.environ["HIPPO_KEEP_TMP"] = "1"
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
    import harness  # noqa: E402 - needs the environment set above
    print(f"PostgreSQL: {db_mode(a)}", flush=True)
    return harness


def create_accounts(server, kind, count):
    """u0..u{count-1} with password PASSWORD: Prosody's internal storage files directly
    (prosodyctl register costs ~0.3 s per user), ejabberd through its HTTP API."""
    if kind == "ejabberd":
        for i in range(count):
            server.register(f"u{i}", PASSWORD)
        return
    d = os.path.join(server.data_dir, DOMAIN.replace(".", "%2e"), "accounts")
    os.makedirs(d, exist_ok=True)
    for i in range(count):
        with open(os.path.join(d, f"u{i}.dat"), "w") as f:
            f.write(f'return {{\n\t["password"] = "{PASSWORD}";\n}};\n')


def data_loaded(pg):
    """Ends the database's set-up once the data is in. Drops the push events the set-up
    queued (hippo.outbox: new posts, memberships): otherwise hippod would send them when it
    starts, during the measurement, and the XMPP server would store them offline. Then
    VACUUM ANALYZE, so that autovacuum does not wake up inside a measured window."""
    pg.psql("DELETE FROM hippo.outbox")
    if pg.psql("SELECT count(*) FROM hippo.outbox") != "0":
        raise RuntimeError("push events left from the set-up would load the run")
    pg.psql("VACUUM ANALYZE", admin=True)


def start_hippod(h):
    """Starts hippod H (made with start=False) and waits until it reports healthy."""
    h.start()
    h.wait_health(200, timeout=30)


def run_driver(path, args, watches, timeout):
    """Runs the load driver PATH with ARGS and a --watch (--watch-tree) LABEL=PID for each
    (label, pid, tree) of WATCHES; echoes its report indented and returns its RESULT as a
    dict, with its exit status as "exit_code"."""
    cmd = [path] + [str(x) for x in args]
    for label, pid, tree in watches:
        cmd += ["--watch-tree" if tree else "--watch", f"{label}={pid}"]
    name = os.path.basename(path)
    print(f"  $ {name} " + " ".join(cmd[1:]), flush=True)
    r = subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=timeout)
    res = None
    for line in r.stdout.splitlines():
        if line.startswith("RESULT "):
            res = json.loads(line[len("RESULT "):])
        else:
            print("    " + line)
    if r.stderr.strip():
        print("    " + r.stderr.strip().replace("\n", "\n    "))
    if res is None:
        raise RuntimeError(f"{name} exited {r.returncode} without a RESULT line")
    res["exit_code"] = r.returncode
    return res


def write_results(path, obj):
    """Writes OBJ as indented JSON to PATH (--out)."""
    with open(path, "w") as f:
        json.dump(obj, f, indent=1)


def core_pct(res, seconds):
    """SECONDS of CPU in % of one core over the measured window of the driver's RESULT."""
    return 100 * seconds / max(res["window_s"], 1e-9)


def fmt(v, spec):
    return "—" if v is None else format(v, spec)


def cpu_seconds(pid):
    """User + system CPU time of PID."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def busy_seconds():
    """Busy CPU-seconds of the whole machine since boot (/proc/stat)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (sum(v) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")
