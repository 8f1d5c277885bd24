"""test_security — nobody who does not belong speaks as a node (issue 11).

A cluster trusts a connection as another node's (its requests are not
forwarded again; FWD, UNDELIVERED and CLUSTER CLOCK are heard from it) only
once it proved it knows the cluster's peer key: CLUSTER CHALLENGE, then
CLUSTER PEER id proof. A client name proves nothing. Each hostile case is
followed by a check that the cluster still serves through a follower and
issued nothing twice."""

import socket
import time

from harness import Raw, RespError, SeqdTestCase

CLUSTER_ARGS = ["--request-timeout-ms", "2000"]


def s_(v):
    return v.decode() if isinstance(v, bytes) else v


def fields(reply):
    return {s_(reply[i]): s_(reply[i + 1]) for i in range(0, len(reply), 2)}


def is_error(reply, prefix="ERR"):
    return isinstance(reply, RespError) and reply.text.startswith(prefix)


class PeerProofTest(SeqdTestCase):

    def next_via(self, port, name, tries=50):
        """NEXT name through a node, retrying the answers that mean "later"."""
        with Raw(port) as r:
            for _ in range(tries):
                rep = r.cmd("NEXT", name)
                if not isinstance(rep, RespError):
                    return rep
                self.assertTrue(rep.text.startswith(("TRYAGAIN", "CLUSTERDOWN")), rep.text)
                time.sleep(0.1)
        self.fail("NEXT %s through port %d never succeeded" % (name, port))

    def test_forged_undelivered_cannot_steal_a_reservation(self):
        """The issue's case on a cluster: A reserves 1 with KEY holderA; B
        names itself like a forward link and reports 1 undelivered with
        GRANT, on the leader and on a follower; C reserves with KEY holderB.
        Every report is refused, C gets 2, CONFIRM 1 KEY holderB fails, and
        number 1 stays reserved."""
        c = self.start_cluster(3, args=CLUSTER_ARGS)
        lead = c.wait_stable_leader()
        follower = c.followers(lead)[0]
        with Raw(lead.port) as a:
            self.assertEqual(a.cmd("CREATE", "g", 1, 1000, "MODE", "gapless"), "OK")
            self.assertEqual(a.cmd("RESERVE", "g", "TTL", 600, "KEY", "holderA"), 1)
        refused = []
        for node in (lead, follower):
            with Raw(node.port) as b:
                self.assertEqual(b.cmd("CLIENT", "SETNAME", "seqd-forward"), "OK")
                for grant in (1, 2):
                    rep = b.cmd("UNDELIVERED", "g", 1, 1, "x", "GRANT", grant)
                    refused.append((node.port, grant, rep))
                rep = b.cmd("FWD", 1, int(time.time() * 1000) + 5000, "UNDELIVERED", "g", 1, 1, "x")
                refused.append((node.port, "FWD", rep))
                rep = b.cmd("CLUSTER", "CLOCK", 12345, int(time.time() * 1000))
                refused.append((node.port, "CLOCK", rep))
        accepted = [r for r in refused if not is_error(r[2])]
        self.assertEqual(accepted, [], "node-only commands accepted from a named client")
        with Raw(lead.port) as r:
            self.assertEqual(fields(r.cmd("LOOKUP", "g", 1)).get("state"), "reserved")
            self.assertEqual(r.cmd("RESERVE", "g", "TTL", 600, "KEY", "holderB"), 2)
            self.assertTrue(is_error(r.cmd("CONFIRM", "g", 1, "KEY", "holderB")))
            self.assertEqual(r.cmd("CONFIRM", "g", 1, "KEY", "holderA"), "OK")
        # the cluster's own forward links still work: a follower forwards
        with Raw(follower.port) as r:
            self.assertEqual(r.cmd("CREATE", "s", 1, 100), "OK")
        self.assertEqual([self.next_via(follower.port, "s") for _ in range(3)], [1, 2, 3])

    def test_wrong_or_missing_proof_closes_the_connection(self):
        """CLUSTER PEER without a challenge, with a wrong proof, with a
        proof for another nonce, or twice for one nonce: an error, and the
        connection is closed; the challenge is 32 fresh hex digits each
        time. Afterwards the cluster still serves through a follower."""
        c = self.start_cluster(3, args=CLUSTER_ARGS)
        lead = c.wait_stable_leader()
        follower = c.followers(lead)[0]
        with Raw(lead.port) as r:
            self.assertEqual(r.cmd("CREATE", "s", 1, 100), "OK")
        # once a follower forwards, both hold the peer key (else PEER says TRYAGAIN)
        self.assertEqual(self.next_via(follower.port, "s"), 1)
        for node in (lead, follower):
            with Raw(node.port) as r:
                rep = r.cmd("CLUSTER", "PEER", 1, "0" * 64)
                self.assertTrue(is_error(rep), rep)
                self.assertTrue(r.closed_by_server(), "PEER without CHALLENGE left the connection open")
            with Raw(node.port) as r:
                n1 = s_(r.cmd("CLUSTER", "CHALLENGE"))
                n2 = s_(r.cmd("CLUSTER", "CHALLENGE"))
                for n in (n1, n2):
                    self.assertRegex(n, r"^[0-9a-f]{32}$")
                self.assertNotEqual(n1, n2)
                rep = r.cmd("CLUSTER", "PEER", 1, "ab" * 32)
                self.assertEqual(rep.text if isinstance(rep, RespError) else rep, "ERR peer proof refused")
                self.assertTrue(r.closed_by_server(), "a wrong proof left the connection open")
            with Raw(node.port) as r:
                r.cmd("CLUSTER", "CHALLENGE")
                rep = r.cmd("CLUSTER", "PEER", 1, "not-hex")
                self.assertTrue(is_error(rep), rep)
                self.assertTrue(r.closed_by_server())
            with Raw(node.port) as r:
                # after a refusal nothing of a node's is granted: UNDELIVERED still refused
                rep = r.cmd("UNDELIVERED", "g", 1, 1, "x")
                self.assertTrue(is_error(rep), rep)
        self.assertEqual([self.next_via(follower.port, "s") for _ in range(2)], [2, 3])
        info = s_(Raw(lead.port).cmd("INFO", "stats"))
        self.assertRegex(info, r"peer_proofs_refused:[1-9]")

    def test_thousand_wrong_proofs_leave_the_cluster_serving(self):
        """A thousand connections each try one wrong proof on the leader;
        meanwhile a follower keeps forwarding, and no number comes twice."""
        c = self.start_cluster(3, args=CLUSTER_ARGS)
        lead = c.wait_stable_leader()
        follower = c.followers(lead)[0]
        with Raw(lead.port) as r:
            self.assertEqual(r.cmd("CREATE", "s", 1, 10 ** 6), "OK")
        got = [self.next_via(follower.port, "s")]  # the leader holds the peer key now
        for i in range(1000):
            sock = socket.create_connection(("127.0.0.1", lead.port), timeout=5)
            sock.sendall(b"*2\r\n$7\r\nCLUSTER\r\n$9\r\nCHALLENGE\r\n"
                         b"*4\r\n$7\r\nCLUSTER\r\n$4\r\nPEER\r\n$1\r\n7\r\n$64\r\n" + b"f" * 64 + b"\r\n")
            data = b""
            while True:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                data += chunk
            sock.close()
            self.assertIn(b"-ERR peer proof refused", data)
            if i % 100 == 0:
                got.append(self.next_via(follower.port, "s"))
        got += [self.next_via(follower.port, "s") for _ in range(5)]
        self.assertEqual(len(set(got)), len(got), got)
        self.assertEqual(got, sorted(got))
