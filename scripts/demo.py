#!/usr/bin/python3
"""Runs hippod for a try-out: a throwaway PostgreSQL and a private Prosody on loopback,
demo users alice and bob (in Prosody and in hippo's database), a demo post from alice to
bob, then hippod in the foreground with its log on the terminal. Ctrl-C (or SIGTERM)
stops everything it started and removes the temp dir.

    /usr/bin/python3 scripts/demo.py [--build-dir build]
    /usr/bin/python3 scripts/demo.py console --user alice --password PW [--port 5222]

`console` is a raw XML console for the running demo: each line typed is sent verbatim,
every stanza received is printed.
"""

import argparse
import os
import secrets
import shlex
import signal
import sys
import threading
import time
import types

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
import harness  # noqa: E402

# Stable instructions when these are free; free ports otherwise.
DEFAULT_PORTS = {"c2s": 5222, "component": 5347, "http": 8347, "postgres": 15432}
USERS = (("alice", "Alice"), ("bob", "Bob"))


def mapped_guid(guid):
    """GUID as a JID node (design.md): upper -> lower, lower -> letter + '_'."""
    return "".join(c.lower() if c.isupper() else c + "_" if c.islower() else c for c in guid)


def out(text=""):
    with _print_lock:
        print(text, flush=True)


_print_lock = threading.Lock()


def tail_log(path, stop):
    """Copies PATH to stdout as it grows until STOP is set."""
    pos = 0
    while not stop.is_set():
        try:
            with open(path, "rb") as f:
                f.seek(pos)
                data = f.read()
        except FileNotFoundError:
            data = b""
        if data:
            cut = data.rfind(b"\n") + 1  # whole lines only
            if cut:
                pos += cut
                with _print_lock:
                    sys.stdout.write(data[:cut].decode(errors="replace"))
                    sys.stdout.flush()
        stop.wait(0.1)


def resolve_binaries(build_dir):
    """Sets harness.HIPPOD/HIPPOCTL from --build-dir (relative to the cwd, else the repo);
    without it, $HIPPOD/$HIPPOCTL or <repo>/build."""
    if build_dir is None:
        return
    d = build_dir
    if not os.path.isabs(d) and not os.path.isdir(d):
        d = os.path.join(REPO, d)
    d = os.path.abspath(d)
    harness.HIPPOD = os.path.join(d, "hippod")
    harness.HIPPOCTL = os.path.join(d, "hippoctl")


def create_db_data(pg):
    """Creates the demo users and post with hippoctl. Returns ({user: guid}, post guid,
    error text or None)."""
    guids, post = {}, None
    try:
        for user, name in USERS:
            guids[user] = pg.hippoctl("user", "add", "--jid", f"{user}@{harness.DOMAIN}",
                                      "--name", name).split()[-1]
        post = pg.hippoctl("post", "create", "--poster", guids["alice"],
                           "--href", "https://example.org/hippo-demo",
                           "--title", "Welcome to hippod",
                           "--body", "A demo post from Alice to Bob.",
                           "--to", guids["bob"]).split()[-1]
    except (harness.CommandError, IndexError) as e:
        return guids, post, str(e) or "hippoctl printed nothing"
    return guids, post, None


def hint_env(pg, pro):
    """The one line that points hippoctl at the demo's database and rooms domain and puts it
    on the PATH, so that the hints below are plain `hippoctl ...` commands."""
    ctl_dir = os.path.dirname(os.path.abspath(harness.HIPPOCTL))
    return (f"export HIPPO_DATABASE={shlex.quote(pg.conninfo)} "
            f"HIPPO_DOMAIN={pro.component_domain} PATH=\"{ctl_dir}:$PATH\"")


def hints(pro, room):
    """(command, what it does) pairs, in the order they are meant to be run; each effect is
    what hippod really sends (tests/integration/test_hippoctl_cli.py runs them as printed).
    Hotness counts a user's unviewed posts of the last hour: 1-3 COOL, 4-7 WARM."""
    a, b = f"alice@{pro.domain}", f"bob@{pro.domain}"
    return [
        ("for i in 1 2 3; do hippoctl post create --poster " + a + " --href "
         "https://example.org/$i --title \"Post $i\" --to " + b + "; done",
         "bob: three newPost, then hotness WARM (4 unviewed posts of the last hour)"),
        (f"hippoctl view record {room} {b}",
         "bob: hotness COOL (3 unviewed left); alice: livePostChanged (a viewer)"),
        (f"hippoctl pref set {b} musicSharingEnabled false", "bob: prefs"),
        (f"hippoctl myspace set {b} bobspace", "bob: mySpaceNameChanged"),
        (f"hippoctl contact add {a} {b}", "(alice's address book now has bob)"),
        (f"hippoctl myspace comment {a} bobspace", "bob: mySpaceContactComment"),
    ]


def banner(stack, pg, pro, h, passwords, guids, post, db_error):
    ci = shlex.quote(pg.conninfo)
    me = os.path.relpath(os.path.abspath(__file__))
    room = f"{mapped_guid(post)}@{pro.component_domain}" if post else \
        f"ROOM@{pro.component_domain}"
    lines = [
        "",
        "=" * 78,
        "hippod demo is running. Ctrl-C stops hippod, Prosody and PostgreSQL and removes",
        f"  {stack.dir}",
        "",
        f"join this room from any XMPP client (TLS off, plain auth): {room}",
        f"  (server 127.0.0.1 port {pro.c2s_port}, log in as alice or bob below; the room of"
        " the demo post)",
        "",
        f"XMPP (Prosody, loopback only, plain auth WITHOUT TLS): 127.0.0.1:{pro.c2s_port}, "
        f"domain {pro.domain}",
        f"Component domain served by hippod: {pro.component_domain} "
        f"(component port {pro.component_port})",
        "Users:",
    ]
    for user, _ in USERS:
        g = guids.get(user)
        lines.append(f"  {user + '@' + pro.domain:<20} password {passwords[user]:<14} "
                     f"hippo GUID {g or '(not created: see the error above)'}")
    lines.append(f"Demo post alice -> bob: {post or '(not created)'}"
                 + (f"  room {room}" if post else ""))
    lines += [
        "",
        "Raw XML console (another terminal), e.g. as bob:",
        f"  /usr/bin/python3 {me} console --port {pro.c2s_port} --user bob "
        f"--password {passwords['bob']}",
        "(or any XMPP client with an XML console on 127.0.0.1 without TLS). Stanzas to try:",
        f"  <iq type='get' to='{pro.component_domain}' id='d1'>"
        "<query xmlns='http://jabber.org/protocol/disco#info'/></iq>",
        f"  <iq type='get' to='{pro.component_domain}' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>",
        f"  <iq type='get' to='{pro.component_domain}' id='r1'>"
        "<recentPosts xmlns='http://dumbhippo.com/protocol/post'/></iq>",
        f"  <presence to='{room}/bob'><x xmlns='http://jabber.org/protocol/muc'/></presence>",
        f"  <message to='{room}' type='groupchat'><body>hello</body></message>",
        "",
        f"HTTP:  http://127.0.0.1:{h.http_port}/healthz   "
        f"http://127.0.0.1:{h.http_port}/metrics",
        f"SQL:   psql {ci}",
        "hippoctl, in another terminal (run the first line once):",
        f"  {hint_env(pg, pro)}",
        f"  hippoctl room show {room}      (occupants, last messages)",
        f"  hippoctl user add --jid carol@{pro.domain} --name Carol",
        f"  (carol's XMPP account: prosodyctl --config {pro.config_path} register carol "
        f"{pro.domain} PASSWORD)",
        "Push notifications: log in as bob and alice with the console above, then, in order:",
    ]
    for command, effect in hints(pro, room):
        lines += [f"  {command}", f"      -> {effect}"]
    lines += [
        f"  alice's console: <presence to='{room}/alice'>"
        "<x xmlns='http://jabber.org/protocol/muc'/></presence>",
        "      -> bob: activePostsChanged and livePostChanged (the post has a chatter)",
        "  hippoctl outbox list      (events not sent yet; see docs/push.md)",
        f"hippod config: {h.config_path}",
        "=" * 78,
        "",
    ]
    if db_error:
        lines[1:1] = ["!" * 78, "hippoctl FAILED, the demo users/post are not in the database:",
                      db_error, "!" * 78]
    out("\n".join(lines))


def run_demo(args):
    resolve_binaries(args.build_dir)
    if not os.path.exists(harness.HIPPOD):
        out(f"demo: {harness.HIPPOD} does not exist: build it first "
            "(meson setup build && ninja -C build) or pass --build-dir")
        return 1
    stop_tail = threading.Event()
    tail = None
    stack = harness.Stack("demo")
    try:
        out(f"demo: working in {stack.dir}")
        pg = stack.postgres(port=DEFAULT_PORTS["postgres"])
        out(f"demo: PostgreSQL on 127.0.0.1:{pg.port} (pid {pg.pid})")
        pro = stack.prosody(c2s_port=DEFAULT_PORTS["c2s"],
                            component_port=DEFAULT_PORTS["component"],
                            secret=secrets.token_urlsafe(12))
        out(f"demo: Prosody c2s 127.0.0.1:{pro.c2s_port}, component port "
            f"{pro.component_port} (pid {pro.pid})")
        passwords = {}
        for user, _ in USERS:
            passwords[user] = secrets.token_urlsafe(9)
            pro.register(user, passwords[user])
        http = DEFAULT_PORTS["http"] if harness.port_free(DEFAULT_PORTS["http"]) else \
            harness.free_port()
        h = stack.hippod(server=pro, pg=pg, config={"http": {"port": http},
                                                    "log": {"level": "info"}},
                         migrate=False, start=False)
        out("demo: hippod --migrate")
        r = h.migrate()
        if r.stdout.strip() or r.stderr.strip():
            out((r.stdout + r.stderr).rstrip())
        guids, post, db_error = create_db_data(pg)
        if db_error:
            out("demo: hippoctl FAILED:\n" + db_error)
        h.start()
        tail = threading.Thread(target=tail_log, args=(h.log_path, stop_tail), daemon=True)
        tail.start()
        try:
            h.wait_health(200, timeout=15)
        except TimeoutError:
            out("demo: WARNING: /healthz is not 200 after 15 s (see the log)")
        if not h.running():
            out(f"demo: hippod exited with {h.returncode}")
            return 1
        banner(stack, pg, pro, h, passwords, guids, post, db_error)
        while h.running():
            time.sleep(0.2)
        time.sleep(0.2)  # let the tail print hippod's last words
        out(f"demo: hippod exited with {h.returncode}; stopping the rest")
        return 1
    except (KeyboardInterrupt, SystemExit) as e:  # Ctrl-C; SIGTERM/SIGHUP (harness.Terminated)
        code = getattr(e, "code", 130)
        out("\ndemo: stopping")
        return code if isinstance(code, int) else 1
    except (harness.CommandError, RuntimeError, TimeoutError, OSError) as e:
        out(f"demo: FAILED: {e}")
        return 1
    finally:
        # a second Ctrl-C must not cut the cleanup short
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        d = stack.dir
        try:
            stack.close()
        finally:
            stop_tail.set()
            if tail is not None:
                tail.join(1)
            out(f"demo: stopped hippod, Prosody and PostgreSQL; removed {d}")


def run_console(args):
    server = types.SimpleNamespace(domain=args.domain, c2s_port=args.port)
    try:
        c = harness.Client(server, args.user, args.password, resource=args.resource)
    except (OSError, PermissionError, RuntimeError) as e:
        print(f"console: cannot log in as {args.user}@{args.domain}: {e}", file=sys.stderr)
        return 1
    print(f"console: connected as {c.jid}; type one stanza per line, Ctrl-D quits",
          flush=True)
    quitting = threading.Event()

    def printer():
        while True:
            try:
                el = c.wait_for(None, timeout=3600)
            except TimeoutError:
                continue
            except harness.StreamClosed:
                if not quitting.is_set():
                    out("console: the server closed the stream")
                    os.kill(os.getpid(), signal.SIGINT)  # ends input()
                return
            out("<< " + harness.tostring(el))

    threading.Thread(target=printer, daemon=True).start()
    try:
        __import__("readline")  # line editing for input()
    except ImportError:
        pass
    try:
        while True:
            line = input().strip()
            if line:
                c.send(line)
    except EOFError:
        time.sleep(1)  # piped input: let the answers to the last stanzas arrive
    except KeyboardInterrupt:
        pass
    quitting.set()
    c.close()
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build-dir", help="where hippod and hippoctl are (default: $HIPPOD, "
                    "$HIPPOCTL or <repo>/build)")
    sub = ap.add_subparsers(dest="cmd")
    con = sub.add_parser("console", help="raw XML console for a running demo")
    con.add_argument("--user", required=True)
    con.add_argument("--password", required=True)
    con.add_argument("--port", type=int, default=DEFAULT_PORTS["c2s"])
    con.add_argument("--domain", default=harness.DOMAIN)
    con.add_argument("--resource", default="console")
    args = ap.parse_args()
    if args.cmd == "console":
        return run_console(args)
    return run_demo(args)


if __name__ == "__main__":
    sys.exit(main())
