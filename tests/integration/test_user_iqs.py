#!/usr/bin/python3
"""The user-side protocol IQs (clientInfo, music, myspace, prefs) through real XMPP
servers: every IQ's happy path and its errors through Prosody, the happy paths through
ejabberd too, the database effects checked with SQL, every reply payload validated against
schema/*.xsd (libxml2 through ctypes: no extra package needed), a table of malformed
payloads that must all end in the right error with hippod still healthy, the SIGHUP reload
of the [client "NAME"] sections, and the wait errors while PostgreSQL is down."""
import ctypes
import os
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import metric_value, xml_escape  # noqa: E402

COMPONENT = harness.COMPONENT_DOMAIN
NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"
P = "http://dumbhippo.com/protocol/"
NS_CLIENTINFO, NS_MUSIC, NS_MYSPACE, NS_PREFS = (P + "clientinfo", P + "music", P + "myspace",
                                                 P + "prefs")
NS_XSI = "http://www.w3.org/2001/XMLSchema-instance"

CLIENTS = {
    'client "windows"': {"minimum": "1.1.50", "current": "1.1.60",
                         "download": "http://example.test/get/windows?v=1.1.60&x=y"},
    'client "linux"': {"minimum": "1.1.10", "current": "1.1.20",
                       "download": "https://example.test/get/linux"},
}
USERS = ("alice", "bob", "carol", "dave", "erin")


# ---------------------------------------------------------------- XML Schema validation

class _XmlError(ctypes.Structure):
    _fields_ = [("domain", ctypes.c_int), ("code", ctypes.c_int), ("message", ctypes.c_char_p)]


_ERRFUNC = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.POINTER(_XmlError))


class Schemas:
    """schema/NAME.xsd compiled once with libxml2 (the library hippod's tests link)."""

    def __init__(self):
        lib = self.lib = ctypes.CDLL("libxml2.so.2")
        vp, cp = ctypes.c_void_p, ctypes.c_char_p
        for name, res, args in (
                ("xmlSchemaNewParserCtxt", vp, [cp]), ("xmlSchemaParse", vp, [vp]),
                ("xmlSchemaFreeParserCtxt", None, [vp]), ("xmlSchemaNewValidCtxt", vp, [vp]),
                ("xmlSchemaSetValidStructuredErrors", None, [vp, _ERRFUNC, vp]),
                ("xmlReadMemory", vp, [cp, ctypes.c_int, cp, cp, ctypes.c_int]),
                ("xmlSchemaValidateDoc", ctypes.c_int, [vp, vp]), ("xmlFreeDoc", None, [vp]),
                ("xmlSchemaFreeValidCtxt", None, [vp])):
            fn = getattr(lib, name)
            fn.restype, fn.argtypes = res, args
        self.schemas = {}

    def _schema(self, name):
        if name not in self.schemas:
            path = os.path.join(harness.SRCDIR, "schema", f"{name}.xsd")
            pctx = self.lib.xmlSchemaNewParserCtxt(path.encode())
            schema = self.lib.xmlSchemaParse(pctx)
            self.lib.xmlSchemaFreeParserCtxt(pctx)
            if not schema:
                raise AssertionError(f"cannot compile {path}")
            self.schemas[name] = schema
        return self.schemas[name]

    def errors(self, name, xml):
        """The validity errors of the document XML (text) against schema NAME ([] = valid)."""
        errors = []
        cb = _ERRFUNC(lambda _u, e: errors.append(e.contents.message.decode().strip()))
        data = xml.encode()
        doc = self.lib.xmlReadMemory(data, len(data), b"reply.xml", None, 2048)  # NONET
        if not doc:
            return ["not well-formed XML"]
        vctx = self.lib.xmlSchemaNewValidCtxt(self._schema(name))
        self.lib.xmlSchemaSetValidStructuredErrors(vctx, cb, None)
        rc = self.lib.xmlSchemaValidateDoc(vctx, doc)
        self.lib.xmlSchemaFreeValidCtxt(vctx)
        self.lib.xmlFreeDoc(doc)
        return errors or ([f"invalid (libxml2 code {rc})"] if rc else [])


SCHEMAS = Schemas()


def as_document(el, xsi_type=None):
    """EL as a standalone document, optionally with xsi:type on its root (the strict
    request/reply types of the schemas)."""
    text = harness.tostring(el)
    if xsi_type:
        end = text.index(" ")
        text = f'{text[:end]} xmlns:xsi="{NS_XSI}" xsi:type="{xsi_type}"{text[end:]}'
    return text


# ---------------------------------------------------------------- helpers

def error_of(iq):
    """(type, condition, text) of an error stanza."""
    err = iq.find("{jabber:client}error")
    assert err is not None, harness.tostring(iq)
    conds = [harness.local_name(c) for c in err
             if c.tag.startswith("{" + NS_STANZAS) and harness.local_name(c) != "text"]
    text = err.findtext(f"{{{NS_STANZAS}}}text") or ""
    return err.get("type"), conds[0] if conds else None, text


class UserIqs:
    """Mixed into one TestCase per XMPP server kind: the happy paths."""

    SERVER = None

    @classmethod
    def setUpClass(cls):
        cls.stack = harness.Stack(f"useriq-{cls.SERVER}")
        try:
            cls.pg = cls.stack.postgres()
            cls.server = getattr(cls.stack, cls.SERVER)()
            config = dict(CLIENTS)
            config["component"] = {"reconnect_max_ms": "500"}
            cls.hippod = cls.stack.hippod(server=cls.server, pg=cls.pg, config=config)
            cls.ids = {}
            for u in USERS:
                cls.server.register(u, u + "pw")
                cls.ids[u] = cls.pg.hippoctl("user", "add", "--jid", f"{u}@example.test",
                                             "--name", u.capitalize())
            cls.hippod.wait_health(200, timeout=15)
            cls.clients = {u: cls.stack.client(cls.server, u, u + "pw") for u in USERS[:2]}
        except BaseException:
            cls.stack.close()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            if cls.hippod.running():
                assert cls.hippod.stop() == 0, cls.hippod.log_tail()
        finally:
            cls.stack.close()

    # --- helpers
    def messages_sent(self):
        return metric_value(self.hippod.metrics(), "hippod_stanzas_out_total",
                            {"kind": "message"}) or 0

    def wait_notices_sent(self, timeout=10):
        deadline = time.monotonic() + timeout
        while self.q("SELECT count(*) FROM hippo.pending_myspace_comment_notices") != "0":
            self.assertLess(time.monotonic(), deadline, "notices pushed and deleted")
            time.sleep(0.05)
        while self.q("SELECT count(*) FROM hippo.outbox WHERE kind = 'myspace_comment'") != "0":
            self.assertLess(time.monotonic(), deadline, "events retired")
            time.sleep(0.05)

    def q(self, sql):
        return self.pg.psql(sql)

    def send(self, payload, type="get", user="alice"):
        return self.clients[user].iq(f"<iq type='{type}' to='{COMPONENT}'>{payload}</iq>")

    def result(self, payload, type="get", user="alice"):
        """Sends the IQ, asserts a result from the component; returns its payload (or None)."""
        reply = self.send(payload, type, user)
        self.assertEqual(reply.get("type"), "result", harness.tostring(reply))
        self.assertEqual(reply.get("from"), COMPONENT)
        self.assertEqual(reply.get("to"), self.clients[user].jid)
        children = list(reply)
        self.assertLessEqual(len(children), 1, harness.tostring(reply))
        return children[0] if children else None

    def bad_request(self, payload, type="get", user="alice", text=None):
        reply = self.send(payload, type, user)
        self.assertEqual(reply.get("type"), "error", harness.tostring(reply))
        etype, cond, etext = error_of(reply)
        self.assertEqual((etype, cond), ("modify", "bad-request"), harness.tostring(reply))
        if text is not None:
            self.assertIn(text, etext)
        self.assertEqual(len(reply), 1, "the error carries no copy of the request")
        return etext

    def assert_schema_valid(self, el, schema, xsi_type=None):
        self.assertIsNotNone(el)
        doc = as_document(el, xsi_type)
        self.assertEqual(SCHEMAS.errors(schema, doc), [], doc)

    def user(self, name):
        return self.ids[name]

    # --- clientInfo
    def test_clientinfo_windows(self):
        el = self.result(f"<clientInfo xmlns='{NS_CLIENTINFO}' platform='windows'/>")
        self.assertEqual(el.tag, f"{{{NS_CLIENTINFO}}}clientInfo")
        self.assertEqual(dict(el.attrib), CLIENTS['client "windows"'])
        self.assert_schema_valid(el, "clientinfo", "ClientInfoReply")
        self.assertEqual(self.q("SELECT platform, coalesce(distribution, '-') FROM"
                                f" hippo.client_info WHERE user_id = '{self.user('alice')}'"),
                         "windows|-")

    def test_clientinfo_records_the_normalised_client(self):
        el = self.result(f"<clientInfo xmlns='{NS_CLIENTINFO}' platform='linux'"
                         " distribution='Fedora5' architecture='i686'/>", user="bob")
        self.assertEqual(el.get("current"), "1.1.20")
        self.assert_schema_valid(el, "clientinfo", "ClientInfoReply")
        self.assertEqual(self.q("SELECT platform, distribution, os_version, architecture FROM"
                                f" hippo.client_info WHERE user_id = '{self.user('bob')}'"),
                         "linux|fedora|5|x86")

    # --- prefs
    def test_prefs_defaults_and_stored_values(self):
        carol = self.user("carol")
        c = self.stack.client(self.server, "carol", "carolpw")
        self.clients["carol"] = c
        try:
            el = self.result(f"<prefs xmlns='{NS_PREFS}'/>", user="carol")
            self.assert_schema_valid(el, "prefs")
            props = {p.get("key"): p.text or "" for p in el}
            self.assertEqual(props, {"applicationUsageEnabled": "false",
                                     "musicSharingEnabled": "true",
                                     "musicSharingPrimed": "false"})
            self.pg.hippoctl("pref", "set", carol, "musicSharingEnabled", "FALSE")
            # a key of the web application's own: hippoctl refuses keys clients do not know
            self.q(f"SELECT hippo.set_pref('{carol}', 'custom.key', 'a <b> & c')")
            el = self.result(f"<prefs xmlns='{NS_PREFS}'><ignored/></prefs>", user="carol")
            self.assert_schema_valid(el, "prefs")
            self.assertEqual([(p.get("key"), p.text or "") for p in el],
                             [("applicationUsageEnabled", "false"), ("custom.key", "a <b> & c"),
                              ("musicSharingEnabled", "false"), ("musicSharingPrimed", "false")])
            self.assertEqual(self.q("SELECT string_agg(key || '=' || value, ',' ORDER BY key)"
                                    f" FROM hippo.user_prefs('{carol}')"),
                             "applicationUsageEnabled=false,custom.key=a <b> & c,"
                             "musicSharingEnabled=false,musicSharingPrimed=false")
        finally:
            self.clients.pop("carol").close()

    # --- music
    def music(self, mtype, inner):
        return f"<music xmlns='{NS_MUSIC}' type='{mtype}'>{inner}</music>"

    @staticmethod
    def props(**kv):
        return "".join(f"<prop key='{k}'>{xml_escape(str(v))}</prop>" for k, v in kv.items())

    def current_track(self, user):
        return self.q("SELECT coalesce(t.name, '-'), coalesce(t.url, '-'), c.playing FROM"
                      " hippo.current_tracks c LEFT JOIN hippo.tracks t ON t.id = c.track_id"
                      f" WHERE c.user_id = '{self.user(user)}'")

    def history(self, user):
        return self.q("SELECT string_agg(t.name || ':' || h.times_played, ','"
                      " ORDER BY h.last_played_at DESC) FROM hippo.track_history h"
                      " JOIN hippo.tracks t ON t.id = h.track_id"
                      f" WHERE h.user_id = '{self.user(user)}'")

    def test_music_changed_and_stopped(self):
        alice = self.user("alice")
        self.q(f"DELETE FROM hippo.track_history WHERE user_id = '{alice}';"
               f" DELETE FROM hippo.current_tracks WHERE user_id = '{alice}'")
        song = self.props(type="FILE", format="MP3", name="Song 1", artist="Band",
                          album="", url="http://example.test/s1.mp3", duration=215,
                          fileSize=3456789, trackNumber=4, discIdentifier="d1",
                          **{"track-number": "4"})
        self.assertIsNone(self.result(self.music("musicChanged", song), "set"))
        self.assertEqual(self.current_track("alice"), "Song 1|http://example.test/s1.mp3|t")
        self.assertEqual(self.q("SELECT type, format, artist, coalesce(album, '-'), duration,"
                                " file_size, track_number, disc_identifier FROM hippo.tracks"
                                " WHERE name = 'Song 1'"),
                         "FILE|MP3|Band|-|215|3456789|4|d1")
        # the same track again is not a new play; a stop keeps the track
        self.result(self.music("musicChanged", song), "set")
        self.assertEqual(self.history("alice"), "Song 1:1")
        self.result(self.music("musicChanged", ""), "set")
        self.assertEqual(self.current_track("alice"), "Song 1|http://example.test/s1.mp3|f")
        self.result(self.music("musicChanged", song), "set")
        self.assertEqual(self.history("alice"), "Song 1:2")
        # a url that is not http(s) is dropped, as the original did; the rest is kept
        self.result(self.music("musicChanged", self.props(name="Song 2",
                                                          url="file:///c:/music/2.mp3")), "set")
        self.assertEqual(self.current_track("alice"), "Song 2|-|t")
        self.assertEqual(self.history("alice"), "Song 2:1,Song 1:2")
        self.assertEqual(self.q("SELECT count(*) FROM hippo.tracks WHERE name IN"
                                " ('Song 1', 'Song 2')"), "2")

    def test_priming_tracks_once(self):
        bob = self.user("bob")
        self.q(f"DELETE FROM hippo.track_history WHERE user_id = '{bob}';"
               f" DELETE FROM hippo.prefs WHERE user_id = '{bob}'")
        tracks = "".join(f"<track>{self.props(name=f'Top {i}', artist='P')}</track>"
                         for i in range(1, 4))
        self.assertIsNone(self.result(self.music("primingTracks", tracks + "<track/>"), "set",
                                      user="bob"))
        self.assertEqual(self.history("bob"), "Top 1:1,Top 2:1,Top 3:1")  # best ranked newest
        el = self.result(f"<prefs xmlns='{NS_PREFS}'/>", user="bob")
        self.assertEqual({p.get("key"): p.text for p in el}["musicSharingPrimed"], "true")
        # once primed, priming is ignored (still a result)
        self.result(self.music("primingTracks", f"<track>{self.props(name='Late')}</track>"),
                    "set", user="bob")
        self.assertEqual(self.history("bob"), "Top 1:1,Top 2:1,Top 3:1")

    # --- myspace
    def myspace(self, mtype, inner="", attrs="", name="mySpaceInfo"):
        return f"<{name} xmlns='{NS_MYSPACE}' type='{mtype}'{attrs}>{inner}</{name}>"

    def test_myspace_get_name(self):
        self.pg.hippoctl("myspace", "set", self.user("alice"), "")
        el = self.result(self.myspace("getName"))
        self.assertEqual(el.tag, f"{{{NS_MYSPACE}}}mySpaceInfo")
        self.assertEqual(dict(el.attrib), {})
        self.assert_schema_valid(el, "myspace", "MySpaceInfoReply")
        self.pg.hippoctl("myspace", "set", self.user("alice"), "Alice & Co")
        el = self.result(self.myspace("getName"))
        self.assertEqual(el.get("mySpaceName"), "Alice & Co")
        self.assert_schema_valid(el, "myspace", "MySpaceInfoReply")

    def test_myspace_blog_comments(self):
        bob = self.user("bob")
        self.q(f"DELETE FROM hippo.myspace_blog_comments WHERE owner_id = '{bob}'")
        el = self.result(self.myspace("getBlogComments"), user="bob")
        self.assertEqual(list(el), [])
        self.assert_schema_valid(el, "myspace", "MySpaceInfoReply")
        add = self.myspace("addBlogComment", "<commentId>101</commentId><posterId>7</posterId>",
                           name="addBlogComment")
        self.assertIsNone(self.result(add, "set", user="bob"))
        self.result(self.myspace("addBlogComment", "<posterId>8</posterId>"
                                 "<commentId xmlns=''> 102 </commentId>"), "set", user="bob")
        # a known comment id is not stored twice (nor changed)
        self.result(self.myspace("addBlogComment",
                                 "<commentId>101</commentId><posterId>99</posterId>"), "set",
                    user="bob")
        self.assertEqual(self.q("SELECT string_agg(comment_id || ':' || poster_id, ','"
                                " ORDER BY comment_id) FROM hippo.myspace_blog_comments"
                                f" WHERE owner_id = '{bob}'"), "101:7,102:8")
        el = self.result(self.myspace("getBlogComments"), user="bob")
        self.assert_schema_valid(el, "myspace", "MySpaceInfoReply")
        got = [(c.findtext(f"{{{NS_MYSPACE}}}commentId"), c.findtext(f"{{{NS_MYSPACE}}}posterId"))
               for c in el]
        self.assertEqual(got, [("102", "8"), ("101", "7")])  # newest first

    def test_myspace_contacts_and_notices(self):
        a, b, c, d, e = (self.user(u) for u in USERS)
        self.q(f"DELETE FROM hippo.contacts WHERE owner_id = '{a}';"
               "DELETE FROM hippo.pending_myspace_comment_notices;"
               f"SELECT hippo.set_myspace_name('{b}', 'bobspace');"
               f"SELECT hippo.set_myspace_friend_id('{b}', 1234);"
               f"SELECT hippo.set_myspace_name('{c}', 'carolspace');"  # no friend id
               f"SELECT hippo.set_myspace_name('{d}', 'davespace');"
               f"SELECT hippo.set_myspace_friend_id('{d}', 77);"  # not a contact
               f"SELECT hippo.set_myspace_name('{e}', 'BobSpace');"  # same name, other user
               f"SELECT hippo.set_myspace_friend_id('{e}', 5);")
        for contact in ("bob", "carol", "erin"):
            self.pg.hippoctl("contact", "add", "alice@example.test", f"{contact}@example.test")
        self.assertEqual(self.pg.hippoctl("contact", "list", "alice@example.test").count("\n"), 2)
        el = self.result(self.myspace("getContacts"))
        self.assert_schema_valid(el, "myspace", "MySpaceInfoReply")
        self.assertEqual([dict(x.attrib) for x in el],
                         [{"name": "BobSpace", "friendID": "5", "friendId": "5"},
                          {"name": "bobspace", "friendID": "1234", "friendId": "1234"}])
        # a comment by "bobspace" notifies alice's contacts of that name (case-insensitive):
        # one notice each, pushed as a headline and then deleted (docs/push.md)
        sent_before = self.messages_sent()
        notify = self.myspace("notifyContactComment", attrs=" name='bobspace'",
                              name="notifyContactComment")
        self.assertIsNone(self.result(notify, "set"))
        self.wait_notices_sent()
        self.assertEqual(self.messages_sent() - sent_before, 2, "bob and erin (BobSpace)")
        self.result(self.myspace("notifyContactComment", attrs=" name='davespace'"), "set")
        self.wait_notices_sent()
        self.assertEqual(self.messages_sent() - sent_before, 2, "dave is not a contact")
        self.pg.hippoctl("contact", "remove", "alice@example.test", "erin@example.test")
        el = self.result(self.myspace("getContacts"))
        self.assertEqual([x.get("name") for x in el], ["bobspace"])


class ProsodyUserIqs(UserIqs, unittest.TestCase):
    """Everything, errors included, through Prosody."""

    SERVER = "prosody"

    def assert_healthy(self):
        self.assertTrue(self.hippod.running(), self.hippod.log_tail())
        ping = self.send("<ping xmlns='urn:xmpp:ping'/>")
        self.assertEqual(ping.get("type"), "result")
        self.result(f"<prefs xmlns='{NS_PREFS}'/>")

    # --- clientInfo errors
    def test_clientinfo_errors(self):
        self.bad_request(f"<clientInfo xmlns='{NS_CLIENTINFO}'/>", text="platform")
        text = self.bad_request(f"<clientInfo xmlns='{NS_CLIENTINFO}' platform='x11'/>",
                                text='unknown platform "x11"')
        self.assertIn("windows, linux", text)
        self.bad_request(f"<clientInfo xmlns='{NS_CLIENTINFO}' platform='Windows'/>")
        self.bad_request(f"<clientInfo xmlns='{NS_CLIENTINFO}' platform='windows'/>", "set",
                         text="get request")
        self.bad_request(f"<clientInfo xmlns='{NS_CLIENTINFO}' platform='windows'"
                         f" architecture='{'x' * 65}'/>", text="longer than 64")

    def test_clientinfo_reload(self):
        h = self.hippod
        saved = {k: dict(v) for k, v in h.sections.items() if k.startswith("client ")}
        try:
            mark = h.log_mark()
            h.sections['client "windows"']["current"] = "1.2.0"
            h.sections.pop('client "linux"')
            h.sections['client "x11"'] = {"minimum": "0.9", "current": "1.0",
                                          "download": "http://example.test/x11"}
            h.write_config()
            h.signal(signal.SIGHUP)
            h.wait_log(r"configuration reloaded", since=mark)
            el = self.result(f"<clientInfo xmlns='{NS_CLIENTINFO}' platform='windows'/>")
            self.assertEqual(el.get("current"), "1.2.0")
            el = self.result(f"<clientInfo xmlns='{NS_CLIENTINFO}' platform='x11'/>")
            self.assertEqual((el.get("minimum"), el.get("download")),
                             ("0.9", "http://example.test/x11"))
            self.assert_schema_valid(el, "clientinfo", "ClientInfoReply")
            self.bad_request(f"<clientInfo xmlns='{NS_CLIENTINFO}' platform='linux'/>",
                             text="known platforms: windows, x11")
        finally:
            for k in [k for k in h.sections if k.startswith("client ")]:
                h.sections.pop(k)
            h.sections.update(saved)
            mark = h.log_mark()
            h.write_config()
            h.signal(signal.SIGHUP)
            h.wait_log(r"configuration reloaded", since=mark)
        self.assertEqual(self.result(f"<clientInfo xmlns='{NS_CLIENTINFO}' platform='linux'/>")
                         .get("current"), "1.1.20")

    # --- prefs errors
    def test_prefs_set_is_bad_request(self):
        self.bad_request(f"<prefs xmlns='{NS_PREFS}'><prop key='musicSharingEnabled'>false"
                         "</prop></prefs>", "set", text="get request")
        self.assertEqual(self.q("SELECT count(*) FROM hippo.prefs WHERE user_id ="
                                f" '{self.user('alice')}' AND key = 'musicSharingEnabled'"), "0")

    # --- music errors
    def test_music_errors(self):
        before = self.q("SELECT count(*) FROM hippo.tracks")
        self.bad_request(self.music("musicChanged", self.props(name="x")), "get",
                         text="type set")
        self.bad_request(f"<music xmlns='{NS_MUSIC}'/>", "set",
                         text="missing music type; known types are: musicChanged, primingTracks")
        self.bad_request(self.music("play", ""), "set",
                         text='unknown music type "play"; known types are: musicChanged')
        self.bad_request(self.music("musicChanged", "<song/>"), "set",
                         text=f"unknown element <{{{NS_MUSIC}}}song> in musicChanged")
        self.bad_request(self.music("primingTracks", self.props(name="x")), "set",
                         text="in primingTracks (expected track)")
        many = "".join(f"<track>{self.props(name=f't{i}')}</track>" for i in range(101))
        self.bad_request(self.music("primingTracks", many), "set", user="bob",
                         text="more than 100 tracks")
        self.assertEqual(self.q("SELECT count(*) FROM hippo.tracks"), before)

    # --- myspace errors
    def test_myspace_errors(self):
        known = "known types are: getName, getBlogComments, getContacts, addBlogComment"
        self.bad_request(f"<mySpaceInfo xmlns='{NS_MYSPACE}'/>", text="without a type; " + known)
        self.bad_request(self.myspace("getFriends"), text='unknown myspace type "getFriends"')
        self.bad_request(self.myspace("getName"), "set", text="getName is a get request")
        self.bad_request(self.myspace("addBlogComment",
                                      "<commentId>1</commentId><posterId>2</posterId>"),
                         "get", text="addBlogComment is a set request")
        self.bad_request(self.myspace("addBlogComment", "<commentId>1</commentId>"), "set",
                         text="missing parameter for addBlogComment: posterId")
        self.bad_request(self.myspace("addBlogComment", "<commentId>1</commentId><posterId>2"
                                      "</posterId><date>x</date>"), "set",
                         text=f"unknown element <{{{NS_MYSPACE}}}date>")
        self.bad_request(self.myspace("addBlogComment",
                                      "<commentId>one</commentId><posterId>2</posterId>"), "set",
                         text="commentId must be a 64-bit integer")
        self.bad_request(self.myspace("notifyContactComment"), "set",
                         text="needs a name attribute")
        self.bad_request(self.myspace("notifyContactComment", attrs=f" name='{'n' * 257}'"),
                         "set", text="longer than 256")
        self.assertEqual(self.q("SELECT count(*) FROM hippo.myspace_blog_comments WHERE"
                                f" owner_id = '{self.user('alice')}' AND comment_id = 1"), "0")

    def test_myspace_blog_comments_bound(self):
        dave = self.user("dave")
        self.q(f"DELETE FROM hippo.myspace_blog_comments WHERE owner_id = '{dave}';"
               f"SELECT hippo.add_blog_comment('{dave}', i, 1000 + i)"
               " FROM generate_series(1, 105) i")
        c = self.stack.client(self.server, "dave", "davepw")
        self.clients["dave"] = c
        try:
            el = self.result(self.myspace("getBlogComments"), user="dave")
        finally:
            self.clients.pop("dave").close()
        self.assert_schema_valid(el, "myspace", "MySpaceInfoReply")
        ids = [int(x.findtext(f"{{{NS_MYSPACE}}}commentId")) for x in el]
        self.assertEqual(ids, list(range(105, 5, -1)))

    # --- fuzz-style table: malformed payloads end in the right error, hippod stays up
    def test_malformed_payloads(self):
        music, myspace = NS_MUSIC, NS_MYSPACE
        big = "x" * 20000
        cases = [
            # (iq type, payload, expected (type, condition))
            ("get", f"<clientInfo xmlns='{NS_CLIENTINFO}' platform=''/>", None),
            ("get", f"<clientInfo xmlns='{NS_CLIENTINFO}' platform='{big}'/>", None),
            ("get", f"<clientInfo xmlns='{NS_CLIENTINFO}' platform='windows'"
                    f" distribution='{big}'/>", None),
            ("set", f"<music xmlns='{music}' type='musicChanged'><prop>x</prop></music>", None),
            ("set", f"<music xmlns='{music}' type='musicChanged'><prop key=''>x</prop></music>",
             None),
            ("set", f"<music xmlns='{music}' type='musicChanged'><prop key='name'>{big}</prop>"
                    "</music>", None),
            ("set", f"<music xmlns='{music}' type='musicChanged'><prop key='name'><b/></prop>"
                    "</music>", None),
            ("set", f"<music xmlns='{music}' type='musicChanged'><prop key='type'>mp3</prop>"
                    "</music>", None),
            ("set", f"<music xmlns='{music}' type='musicChanged'><prop key='format'>OGG</prop>"
                    "</music>", None),
            ("set", f"<music xmlns='{music}' type='musicChanged'><prop key='duration'>-2</prop>"
                    "</music>", None),
            ("set", f"<music xmlns='{music}' type='musicChanged'><prop key='duration'>1.5</prop>"
                    "</music>", None),
            ("set", f"<music xmlns='{music}' type='musicChanged'><prop key='fileSize'>"
                    "99999999999999999999</prop></music>", None),
            ("set", f"<music xmlns='{music}' type='musicChanged'><prop key='trackNumber'>0"
                    "</prop></music>", None),
            ("set", f"<music xmlns='{music}' type='musicChanged'><prop key='name'>a</prop>"
                    "<prop key='name'>b</prop></music>", None),
            ("set", f"<music xmlns='{music}' type='musicChanged'>"
                    + "".join(f"<prop key='k{i}'>v</prop>" for i in range(33)) + "</music>", None),
            ("set", f"<music xmlns='{music}' type='musicChanged'><prop xmlns='urn:other' "
                    "key='name'>x</prop></music>", None),
            ("set", f"<music xmlns='{music}' type='primingTracks'><track><track/></track></music>",
             None),
            ("set", f"<music xmlns='{music}' type='MUSICCHANGED'/>", None),
            ("set", f"<myspace xmlns='{myspace}' type='addBlogComment'><commentId>1</commentId>"
                    "<posterId>2</posterId><posterId>3</posterId></myspace>", None),
            ("set", f"<myspace xmlns='{myspace}' type='addBlogComment'><commentId>1</commentId>"
                    "<posterId>99999999999999999999</posterId></myspace>", None),
            ("set", f"<myspace xmlns='{myspace}' type='addBlogComment'><commentId>1</commentId>"
                    "<posterId><x/>2</posterId></myspace>", None),
            ("set", f"<myspace xmlns='{myspace}' type='addBlogComment'><commentId>1</commentId>"
                    "<posterId xmlns='urn:other'>2</posterId></myspace>", None),
            ("set", f"<myspace xmlns='{myspace}' type='notifyContactComment' name='  '/>", None),
            ("get", f"<myspace xmlns='{myspace}' type=''/>", None),
            ("get", f"<myspace xmlns='{myspace}' type='{big}'/>", None),
            ("set", f"<prefs xmlns='{NS_PREFS}'/>", None),
            # a namespace that is not the protocol's: not this area's request at all
            ("get", f"<prefs xmlns='{P}Prefs'/>", ("cancel", "feature-not-implemented")),
            ("set", f"<music xmlns='{P}musc' type='musicChanged'/>",
             ("cancel", "feature-not-implemented")),
        ]
        before = self.q("SELECT (SELECT count(*) FROM hippo.tracks) || ',' ||"
                        " (SELECT count(*) FROM hippo.myspace_blog_comments) || ',' ||"
                        " (SELECT count(*) FROM hippo.prefs)")
        for iq_type, payload, expected in cases:
            with self.subTest(payload=payload[:120]):
                reply = self.send(payload, iq_type)
                self.assertEqual(reply.get("type"), "error", harness.tostring(reply)[:400])
                self.assertEqual(error_of(reply)[:2], expected or ("modify", "bad-request"),
                                 harness.tostring(reply)[:400])
        self.assertEqual(self.q("SELECT (SELECT count(*) FROM hippo.tracks) || ',' ||"
                                " (SELECT count(*) FROM hippo.myspace_blog_comments) || ',' ||"
                                " (SELECT count(*) FROM hippo.prefs)"), before)
        self.assertGreaterEqual(metric_value(self.hippod.metrics(), "hippod_errors_total",
                                             {"condition": "bad-request"}), len(cases) - 2)
        self.assert_healthy()

    # --- the sender cache (src/user_cache.c) follows changes made in PostgreSQL
    def prefs_reply_until(self, user, wanted, timeout=10):
        """Sends prefs IQs as USER until the reply's (type, condition) is WANTED."""
        deadline = time.monotonic() + timeout
        while True:
            reply = self.send(f"<prefs xmlns='{NS_PREFS}'/>", user=user)
            got = ("result", None) if reply.get("type") == "result" else error_of(reply)[:2]
            if got == wanted:
                return
            self.assertLess(time.monotonic(), deadline, f"{user}: {got}, not {wanted}")
            time.sleep(0.05)

    def user_lookups(self):
        """(from the cache, from the database) so far."""
        m = self.hippod.metrics()
        return tuple(metric_value(m, "hippod_user_lookups_total", {"source": s}) or 0
                     for s in ("cache", "database"))

    def test_sender_changes_in_postgresql_are_seen(self):
        self.server.register("frank", "frankpw")
        frank = self.pg.hippoctl("user", "add", "--jid", "frank@example.test", "--name", "Frank")
        self.clients["frank"] = self.stack.client(self.server, "frank", "frankpw")
        lookups = self.user_lookups()
        self.result(f"<prefs xmlns='{NS_PREFS}'/>", user="frank")  # remembered now
        self.result(f"<prefs xmlns='{NS_PREFS}'/>", user="frank")
        self.result(f"<prefs xmlns='{NS_PREFS}'/>", user="frank")
        after = self.user_lookups()
        self.assertEqual((after[0] - lookups[0], after[1] - lookups[1]), (2, 1),
                         "one database lookup, then the cache")
        self.q(f"UPDATE hippo.users SET jid = 'frank2@example.test' WHERE id = '{frank}'")
        self.prefs_reply_until("frank", ("auth", "registration-required"))
        self.q(f"UPDATE hippo.users SET jid = 'frank@example.test' WHERE id = '{frank}'")
        self.prefs_reply_until("frank", ("result", None))
        self.q(f"DELETE FROM hippo.users WHERE id = '{frank}'")
        self.prefs_reply_until("frank", ("auth", "registration-required"))
        self.assert_healthy()

    def test_zz_database_down_gives_wait_errors(self):
        """Runs last in the class (name order): stops and restarts PostgreSQL."""
        requests = [
            ("get", f"<clientInfo xmlns='{NS_CLIENTINFO}' platform='windows'/>"),
            ("get", f"<prefs xmlns='{NS_PREFS}'/>"),
            ("set", self.music("musicChanged", self.props(name="down"))),
            ("get", self.myspace("getName")),
            ("set", self.myspace("addBlogComment", "<commentId>5</commentId><posterId>6"
                                 "</posterId>")),
        ]
        self.pg.stop()
        try:
            self.hippod.wait_health(503, timeout=10)
            for iq_type, payload in requests:
                with self.subTest(payload=payload[:80]):
                    reply = self.send(payload, iq_type)
                    self.assertEqual(error_of(reply)[:2], ("wait", "internal-server-error"))
        finally:
            self.pg.start()
        self.hippod.wait_health(200, timeout=15)
        self.assert_healthy()


class EjabberdUserIqs(UserIqs, unittest.TestCase):
    """The happy paths through ejabberd."""

    SERVER = "ejabberd"


if __name__ == "__main__":
    harness.main()
