"""test_acl — users and permissions, replicated through the log (issue 11,
item 2), checked from outside: what each user may and may not do, as a
client sees it.

Every command against every category (allowed, or NOPERM with Redis's
words, and nothing changed), before and after a restart that reads the
users back from a snapshot; ~patterns confine a user to its sequences;
passwords never appear in clear in a reply, a log line or a byte of the
data directory; --requirepass-file seeds the default user once; a user made
on a follower logs in on the leader and after a failover, and every node
lists the same users; hostile input (huge names, a thousand rules, a user
removed while connected) gets an error, never a crash."""

import glob
import os
import time

import redis

from harness import Raw, RespError, SeqdTestCase, encode, info_fields, role_of
from test_auth import password_file

# One command per row: its category, and how to run it (sequence s is
# strict, g gapless; x is made and dropped by the admin rows).
COMMANDS = [
    ("read", ("DESCRIBE", "s")),
    ("read", ("LIST",)),
    ("read", ("GAPS", "s")),
    ("read", ("LOOKUP", "s", 1)),
    ("read", ("ROLE",)),
    ("read", ("INFO",)),
    ("issue", ("NEXT", "s")),
    ("issue", ("INCR", "s")),
    ("issue", ("RESERVE", "g", "TTL", 60)),
    ("void", ("VOID", "s", 1, "spoiled")),
    ("admin", ("CREATE", "x", 1, 10)),
    ("admin", ("ADDRANGE", "s", 5000, 5010)),
    ("admin", ("DROP", "x")),
    ("admin", ("CONFIG", "GET", "port")),
    ("cluster", ("CLUSTER", "NODES")),
    ("acl", ("ACL", "USERS")),
    ("acl", ("ACL", "GETUSER", "default")),
]
CATEGORIES = ["read", "issue", "void", "admin", "cluster", "acl"]
SECRET = "Zq9-unique-secret-777"


def err(reply):
    return reply.text if isinstance(reply, RespError) else None


def noperm_command(argv):
    name = argv[0].lower()
    if name in ("cluster", "acl", "config"):
        name += "|" + str(argv[1]).lower()
    return "NOPERM this user has no permissions to run the '%s' command" % name


class CategoryMatrixTest(SeqdTestCase):

    def setUp(self):
        super().setUp()
        self.s = self.start_server("--snapshot-threshold", "16", "--snapshot-trailing", "16")
        with Raw(self.s.port) as r:
            self.assertEqual(r.cmd("CREATE", "s", 1, 1000), "OK")
            self.assertEqual(r.cmd("CREATE", "g", 1, 1000, "MODE", "gapless"), "OK")
            self.assertEqual(r.cmd("NEXT", "s"), 1)
            for cat in CATEGORIES:
                self.assertEqual(r.cmd("ACL", "SETUSER", "u-" + cat, "on", ">pw-" + cat, "~*",
                                       "+@" + cat), "OK")

    def run_matrix(self):
        for cat in CATEGORIES:
            with Raw(self.s.port) as r:
                self.assertEqual(r.cmd("AUTH", "u-" + cat, "pw-" + cat), "OK")
                self.assertEqual(r.cmd("ACL", "WHOAMI"), b"u-" + cat.encode())
                for row_cat, argv in COMMANDS:
                    before = self.next_of_s()
                    reply = r.cmd(*argv)
                    if row_cat == cat:
                        self.assertFalse((err(reply) or "").startswith("NOPERM"), (cat, argv, reply))
                    else:
                        self.assertEqual(err(reply), noperm_command(argv), (cat, argv))
                        self.assertEqual(self.next_of_s(), before, (cat, argv))  # nothing changed

    def next_of_s(self):
        with Raw(self.s.port) as r:
            d = r.cmd("DESCRIBE", "s")
        return dict(zip(d[::2], d[1::2]))[b"next"]

    def test_every_command_against_every_category(self):
        self.run_matrix()
        # the users come back from the log and then from a snapshot
        self.s.restart()
        self.run_matrix()
        with Raw(self.s.port) as r:
            for _ in range(40):
                r.cmd("LIST")  # enough entries for a snapshot
        time.sleep(0.3)
        self.assertTrue(glob.glob(os.path.join(self.s.data_dir, "raft", "snapshot-*")))
        self.s.restart()
        self.assertIn("restored a snapshot", self.s.log_since_start())
        self.run_matrix()

    def test_pattern_confines_a_user_to_its_sequences(self):
        with Raw(self.s.port) as r:
            self.assertEqual(r.cmd("CREATE", "policies-a", 1, 100), "OK")
            self.assertEqual(r.cmd("ACL", "SETUSER", "sales", "on", ">s3cret", "~policies-*",
                                   "+@issue", "+@read"), "OK")
        with Raw(self.s.port) as r:
            self.assertEqual(r.cmd("AUTH", "sales", "s3cret"), "OK")
            self.assertEqual(r.cmd("NEXT", "policies-a"), 1)
            self.assertEqual(r.cmd("DESCRIBE", "policies-a")[1], b"policies-a")
            self.assertEqual(err(r.cmd("NEXT", "s")),
                             "NOPERM this user has no permissions to access the 's' sequence")
            self.assertEqual(err(r.cmd("DROP", "policies-a")),
                             "NOPERM this user has no permissions to run the 'drop' command")
            self.assertEqual(err(r.cmd("VOID", "policies-a", 1, "x")),
                             "NOPERM this user has no permissions to run the 'void' command")
            self.assertEqual(err(r.cmd("ACL", "SETUSER", "sales", "+@all")),
                             "NOPERM this user has no permissions to run the 'acl|setuser' command")
            self.assertEqual(r.cmd("NEXT", "policies-a"), 2)
            self.assertEqual(r.cmd("LIST"), [b"policies-a"])  # no name it may not touch
        with Raw(self.s.port) as r:  # an operator checks what sales may do, as Redis 7 lets one
            self.assertEqual(r.cmd("ACL", "DRYRUN", "sales", "NEXT", "policies-b"), "OK")
            self.assertEqual(r.cmd("ACL", "DRYRUN", "sales", "DROP", "policies-b"),
                             b"This user has no permissions to run the 'drop' command")
            self.assertEqual(r.cmd("ACL", "DRYRUN", "sales", "NEXT", "s"),
                             b"This user has no permissions to access the 's' sequence")
            self.assertEqual(r.cmd("ACL", "DRYRUN", "sales", "CLUSTER", "ADD", "1.2.3.4:5"),
                             b"This user has no permissions to run the 'cluster|add' command")
            self.assertEqual(err(r.cmd("ACL", "DRYRUN", "nobody", "PING")), "ERR User 'nobody' not found")
            self.assertEqual(err(r.cmd("ACL", "DRYRUN", "sales", "NOSUCH")), "ERR Command 'NOSUCH' not found")
        with Raw(self.s.port) as r:
            self.assertEqual(r.cmd("LIST"), [b"g", b"policies-a", b"s"])  # default: ~*
        # python3-redis, as a service would log in
        c = redis.Redis(port=self.s.port, username="sales", password="s3cret")
        self.assertEqual(c.execute_command("NEXT", "policies-a"), 3)
        with self.assertRaises(redis.exceptions.NoPermissionError):
            c.execute_command("NEXT", "s")
        c.close()
        with self.assertRaises(redis.exceptions.RedisError) as raised:
            redis.Redis(port=self.s.port, username="sales", password="wrong").ping()
        self.assertIn("WRONGPASS", str(raised.exception))
        # redis-cli --user --pass
        rc, out, _ = self.s.cli("--no-auth-warning", "--user", "sales", "--pass", "s3cret", "NEXT", "policies-a")
        self.assertEqual((rc, out.strip()), (0, "4"))


class UserLifecycleTest(SeqdTestCase):

    def test_setuser_getuser_list_deluser(self):
        s = self.start_server()
        with Raw(s.port) as r:
            self.assertEqual(r.cmd("ACL", "SETUSER", "alice", "on", ">" + SECRET, "~inv-*", "+@issue",
                                   "-incr"), "OK")
            u = r.cmd("ACL", "GETUSER", "alice")
            d = dict(zip(u[::2], u[1::2]))
            self.assertEqual(d[b"flags"], [b"on"])
            self.assertEqual(len(d[b"passwords"]), 1)
            self.assertTrue(d[b"passwords"][0].startswith(b"$scrypt$"))
            self.assertEqual(d[b"commands"], b"-@all +@issue -incr")
            self.assertEqual(d[b"keys"], b"~inv-*")
            self.assertEqual(r.cmd("ACL", "USERS"), [b"alice", b"default"])
            lines = r.cmd("ACL", "LIST")
            self.assertEqual(lines[1], b"user default on nopass ~* +@all")
            self.assertTrue(lines[0].startswith(b"user alice on #$scrypt$"), lines[0])
            self.assertIsNone(r.cmd("ACL", "GETUSER", "nobody"))  # nil
            # a second password, then the first removed by its clear text
            self.assertEqual(r.cmd("ACL", "SETUSER", "alice", ">second"), "OK")
            self.assertEqual(r.cmd("ACL", "SETUSER", "alice", "<" + SECRET), "OK")
            self.assertTrue(err(r.cmd("ACL", "SETUSER", "alice", "<" + SECRET)).startswith(
                "ERR Error in ACL SETUSER modifier '<<password>': The password you are trying to remove"))
        with Raw(s.port) as r:
            self.assertTrue(err(r.cmd("AUTH", "alice", SECRET)).startswith("WRONGPASS"))
        with Raw(s.port) as r:
            self.assertEqual(r.cmd("AUTH", "alice", "second"), "OK")
            with Raw(s.port) as admin:
                self.assertEqual(admin.cmd("ACL", "DELUSER", "alice", "nobody"), 1)
                self.assertEqual(admin.cmd("ACL", "DELUSER", "alice"), 0)
                self.assertEqual(err(admin.cmd("ACL", "DELUSER", "default")),
                                 "ERR The 'default' user cannot be removed")
            # removed while connected: logged out, never served
            self.assertEqual(err(r.cmd("NEXT", "inv-a")), "NOAUTH Authentication required.")
            self.assertTrue(err(r.cmd("AUTH", "alice", "second")).startswith("WRONGPASS"))
        # off: no login at all
        with Raw(s.port) as r:
            self.assertEqual(r.cmd("ACL", "SETUSER", "bob", "off", ">pw", "+@all", "~*"), "OK")
        with Raw(s.port) as r:
            self.assertTrue(err(r.cmd("AUTH", "bob", "pw")).startswith("WRONGPASS"))

    def test_pipelined_setuser_is_seen_by_what_follows(self):
        """SETUSER with a password is hashed first; what the same
        connection sent after it waits for it."""
        s = self.start_server()
        with Raw(s.port) as r:
            r.send(encode("ACL", "SETUSER", "p", "on", ">pw", "+@read") +
                   encode("ACL", "GETUSER", "p") + encode("ACL", "USERS"))
            self.assertEqual(r.read(), "OK")
            u = r.read()
            self.assertEqual(dict(zip(u[::2], u[1::2]))[b"commands"], b"-@all +@read")
            self.assertEqual(r.read(), [b"default", b"p"])

    def test_passwords_never_in_clear(self):
        s = self.start_server("--snapshot-threshold", "16", "--snapshot-trailing", "16")
        with Raw(s.port) as r:
            self.assertEqual(r.cmd("ACL", "SETUSER", "carol", "on", ">" + SECRET, "+@all", "~*"), "OK")
            self.assertEqual(err(r.cmd("ACL", "SETUSER", "carol", "+nosuchcommand", ">" + SECRET)),
                             "ERR Error in ACL SETUSER modifier '+nosuchcommand': Unknown command or "
                             "category name in ACL")
            for _ in range(40):
                r.cmd("LIST")
            listing = r.cmd("ACL", "LIST")
        self.assertNotIn(SECRET.encode(), b" ".join(listing))
        time.sleep(0.3)
        s.stop()
        seen = []
        for root, _, files in os.walk(s.data_dir):
            for f in files:
                with open(os.path.join(root, f), "rb") as fp:
                    if SECRET.encode() in fp.read():
                        seen.append(f)
        self.assertEqual(seen, [])
        self.assertNotIn(SECRET, s.log_text())

    def test_hostile_input(self):
        s = self.start_server()
        with Raw(s.port) as r:
            # the leader's answer to a follower's login: only for a proven node link
            self.assertEqual(r.cmd("ACL", "SETUSER", "victim", "on", ">pw"), "OK")
            got = r.cmd("CLUSTER", "LOGININFO", "victim")
            self.assertEqual(err(got), "ERR CLUSTER LOGININFO is sent between seqd nodes only")
            self.assertEqual(err(r.cmd("CLIENT", "SETNAME", "seqd-forward")), None)
            self.assertTrue(err(r.cmd("CLUSTER", "LOGININFO", "victim")).startswith("ERR"))
            # a forged FWD naming a user is refused too
            self.assertTrue(err(r.cmd("FWD", 1, 99999999999999, "@victim", "ACL", "USERS")).startswith("ERR"))
            self.assertEqual(r.cmd("ACL", "DELUSER", "victim"), 1)
            self.assertTrue(err(r.cmd("ACL", "SETUSER", "x" * 65, "on")).startswith("ERR invalid user name"))
            self.assertTrue(err(r.cmd("ACL", "SETUSER", "a b", "on")).startswith("ERR invalid user name"))
            self.assertTrue(err(r.cmd("AUTH", "x" * 1000, "pw")).startswith("WRONGPASS"))
            replies = [r.cmd("ACL", "SETUSER", "h", "~p%d" % i) for i in range(70)]
            self.assertEqual(replies[:64], ["OK"] * 64)  # 64 patterns a user, then no more
            self.assertTrue(all(err(x).startswith("ERR limit reached") for x in replies[64:]))
            self.assertEqual(r.cmd("ACL", "DELUSER", "h"), 1)
            self.assertTrue(err(r.cmd("ACL", "SETUSER", "h", *["#" + "f" * 200] * 3)).startswith(
                "ERR Error in ACL SETUSER modifier '#fff"))
            self.assertTrue(err(r.cmd("ACL", "SETUSER", "h", "+@nosuch")).startswith(
                "ERR Error in ACL SETUSER modifier '+@nosuch'"))
            self.assertTrue(err(r.cmd("ACL", "SETUSER", "h", "~" + "p" * 300)).startswith("ERR"))
            self.assertTrue(err(r.cmd("ACL", "NOSUCH")).startswith("ERR unknown subcommand"))
            self.assertEqual(r.cmd("ACL", "USERS"), [b"default"])  # nothing half-made
            self.assertEqual(len(r.cmd("ACL", "GENPASS")), 64)
            self.assertEqual(r.cmd("PING"), "PONG")


def lookup_map(reply):
    return {k.decode(): v for k, v in zip(reply[::2], reply[1::2])}


class WhoDidItTest(SeqdTestCase):
    """Item 3: an auditor asks "who voided number 4?" and gets a name."""

    def test_lookup_and_gaps_name_the_voider_and_the_log_names_the_admin(self):
        s = self.start_server()
        with Raw(s.port) as r:
            self.assertEqual(r.cmd("ACL", "SETUSER", "clerk", "on", ">pw", "~*", "+@issue", "+@void",
                                   "+@read"), "OK")
            self.assertEqual(r.cmd("ACL", "SETUSER", "boss", "on", ">pw2", "~*", "+@all"), "OK")
        with Raw(s.port) as boss:
            self.assertEqual(boss.cmd("AUTH", "boss", "pw2"), "OK")
            self.assertEqual(boss.cmd("CREATE", "inv", 1, 100), "OK")
            with Raw(s.port) as clerk:
                self.assertEqual(clerk.cmd("AUTH", "clerk", "pw"), "OK")
                self.assertEqual(clerk.cmd("NEXT", "inv", "COUNT", 5), [1, 5])
                self.assertEqual(clerk.cmd("VOID", "inv", 4, "printer jam"), "OK")
            self.assertEqual(boss.cmd("VOID", "inv", 2, "printer jam"), "OK")
            got = lookup_map(boss.cmd("LOOKUP", "inv", 4))
            self.assertEqual((got["state"], got["reason"], got["user"]), (b"voided", b"printer jam", b"clerk"))
            self.assertNotIn("user", lookup_map(boss.cmd("LOOKUP", "inv", 3)))  # final: nobody's act
            rows = boss.cmd("GAPS", "inv")
            self.assertEqual([(row[0], row[5]) for row in rows], [(2, b"boss"), (4, b"clerk")])
            self.assertEqual(boss.cmd("DROP", "inv"), "OK")
        log = s.log_text()
        for line in ("audit: CREATE inv by boss", "audit: VOID inv 4 by clerk", "audit: VOID inv 2 by boss",
                     "audit: DROP inv by boss", "audit: ACL SETUSER clerk by default"):
            self.assertIn(line, log)
        # who is kept across a restart (log replay, then snapshot)
        s.restart()
        with Raw(s.port) as r:
            self.assertEqual(r.cmd("CREATE", "inv2", 1, 10), "OK")
            self.assertEqual(r.cmd("NEXT", "inv2"), 1)
            self.assertEqual(r.cmd("VOID", "inv2", 1, "x"), "OK")
            self.assertEqual(lookup_map(r.cmd("LOOKUP", "inv2", 1))["user"], b"default")


class RequirepassSeedTest(SeqdTestCase):

    def test_the_file_seeds_the_default_user_once(self):
        s = self.start_server("--requirepass-file", password_file("first\n"))
        with Raw(s.port) as r:
            self.assertEqual(r.cmd("AUTH", "first"), "OK")
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                u = r.cmd("ACL", "GETUSER", "default")
                if dict(zip(u[::2], u[1::2]))[b"passwords"]:
                    break
                time.sleep(0.05)
            self.assertEqual(len(dict(zip(u[::2], u[1::2]))[b"passwords"]), 1)
        # started without the file: the password is in the log now
        s.stop()
        s.args = []
        s.start()
        with Raw(s.port) as r:
            self.assertEqual(err(r.cmd("NEXT", "a")), "NOAUTH Authentication required.")
            self.assertEqual(r.cmd("AUTH", "first"), "OK")
        # another file later does not override what the cluster holds
        s.stop()
        s.start(extra=("--requirepass-file", password_file("second\n")))
        with Raw(s.port) as r:
            self.assertTrue(err(r.cmd("AUTH", "second")).startswith("WRONGPASS"))
            self.assertEqual(r.cmd("AUTH", "first"), "OK")
            # an operator opens the door again: everyone is default
            self.assertEqual(r.cmd("ACL", "SETUSER", "default", "nopass"), "OK")
        with Raw(s.port) as r:
            self.assertEqual(r.cmd("ACL", "WHOAMI"), b"default")
            self.assertEqual(r.cmd("CREATE", "a", 1, 10), "OK")


class ClusterUsersTest(SeqdTestCase):

    def test_a_user_made_on_a_follower_logs_in_everywhere_and_after_failover(self):
        c = self.start_cluster(3)
        leader = c.wait_stable_leader()
        follower = c.followers(leader)[0]
        with Raw(follower.port) as r:
            self.assertEqual(r.cmd("ACL", "SETUSER", "svc", "on", ">svc-pw", "~orders-*", "+@issue",
                                   "+@admin"), "OK")
            self.assertEqual(r.cmd("ACL", "WHOAMI"), b"default")
        with Raw(leader.port) as r:
            self.assertEqual(r.cmd("AUTH", "svc", "svc-pw"), "OK")
            self.assertEqual(r.cmd("CREATE", "orders-1", 1, 1000), "OK")
            self.assertEqual(r.cmd("NEXT", "orders-1"), 1)
            self.assertEqual(err(r.cmd("NEXT", "other")),
                             "NOPERM this user has no permissions to access the 'other' sequence")
        listings = set()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            listings = set()
            for n in c.nodes:
                with Raw(n.port) as r:
                    listings.add(tuple(r.cmd("ACL", "LIST")))
            if len(listings) == 1:
                break
            time.sleep(0.05)
        self.assertEqual(len(listings), 1)  # the same users on every node
        for n in c.nodes:
            with Raw(n.port) as r:
                self.assertEqual(r.cmd("AUTH", "svc", "svc-pw"), "OK")
                self.assertEqual(err(r.cmd("ACL", "LIST")),
                                 "NOPERM this user has no permissions to run the 'acl|list' command")
        # a VOID through a follower is the follower's user's, on every node
        with Raw(follower.port) as r:
            self.assertEqual(r.cmd("AUTH", "svc", "svc-pw"), "OK")
            self.assertEqual(r.cmd("ACL", "WHOAMI"), b"svc")
        with Raw(follower.port) as r:
            self.assertEqual(r.cmd("ACL", "SETUSER", "auditor", "on", ">a", "~*", "+@void", "+@read"), "OK")
            self.assertEqual(r.cmd("AUTH", "auditor", "a"), "OK")
            self.assertEqual(r.cmd("VOID", "orders-1", 1, "cancelled"), "OK")
        with Raw(leader.port) as r:
            self.assertEqual(lookup_map(r.cmd("LOOKUP", "orders-1", 1))["user"], b"auditor")
        self.assertIn("audit: VOID orders-1 1 by auditor", leader.log_text())
        leader.kill9()
        new_leader = c.wait_stable_leader(exclude=(leader,))
        for n in (new_leader, [x for x in c.alive() if x is not new_leader][0]):
            with Raw(n.port) as r:
                self.assertEqual(r.cmd("AUTH", "svc", "svc-pw"), "OK")
                got = r.cmd("NEXT", "orders-1")
                self.assertIsInstance(got, int, got)
                self.assertGreater(got, 1)
                self.assertEqual(err(r.cmd("VOID", "orders-1", 2, "x")),
                                 "NOPERM this user has no permissions to run the 'void' command")
        self.assertIsNotNone(role_of(new_leader))
        with Raw(new_leader.port) as r:
            info = info_fields(r.cmd("INFO"))
        self.assertGreaterEqual(int(info["acl_access_denied_cmd"]), 1)


class ClusterMatrixTest(SeqdTestCase):
    """The category matrix on every node of a three-node cluster: the users
    are made through one follower, and each node (leader or follower, the
    follower forwarding) allows and denies alike."""

    def test_every_command_against_every_category_on_every_node(self):
        c = self.start_cluster(3)
        leader = c.wait_stable_leader()
        follower = c.followers(leader)[0]
        with Raw(follower.port) as r:
            self.assertEqual(r.cmd("CREATE", "s", 1, 100000), "OK")
            self.assertEqual(r.cmd("CREATE", "g", 1, 100000, "MODE", "gapless"), "OK")
            self.assertEqual(r.cmd("NEXT", "s"), 1)
            for cat in CATEGORIES:
                self.assertEqual(r.cmd("ACL", "SETUSER", "u-" + cat, "on", ">pw-" + cat, "~*",
                                       "+@" + cat), "OK")
        for node in c.nodes:
            for cat in CATEGORIES:
                with Raw(node.port) as r:
                    self.assertEqual(r.cmd("AUTH", "u-" + cat, "pw-" + cat), "OK", (node.name, cat))
                    for row_cat, argv in COMMANDS:
                        reply = r.cmd(*argv)
                        if row_cat == cat:
                            self.assertFalse((err(reply) or "").startswith("NOPERM"),
                                             (node.name, cat, argv, reply))
                        else:
                            self.assertEqual(err(reply), noperm_command(argv), (node.name, cat, argv))
