#!/usr/bin/python3
"""A 3-cycle smoke of the chaos campaigns of tests/chaos/chaos.py (see tests/chaos/README.md
for the long runs), on one stack through real Prosody, with classic and MUC clients sending
continuously to three rooms (two post rooms, one group room):

1. three times SIGKILL hippod at a random moment and restart it;
2. three times `pg_ctl stop -m immediate` + start (the server runs synchronous_commit=off);
3. three times SIGTERM hippod during a burst and restart it.

Then: every message a client saw echoed (with its serial) is stored with that serial and
body, no serial was seen with two bodies, no duplicates, no gaps, late joiners (MUC with
<history maxstanzas='1000000'/> and classic) get every stored message in serial order,
every SIGTERM exited 0, every message committed during a SIGTERM cycle was echoed to every
occupant, nothing logged "shutting down", and the final SIGTERM exits 0. No timing is
asserted: the waits are long bounds only."""
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "chaos"))
import harness  # noqa: E402
import chaos  # noqa: E402

PLAN = [("sigkill", 3), ("pgcrash", 3), ("sigterm", 3)]


class ChaosSmoke(unittest.TestCase):
    def test_sigkill_pgcrash_sigterm_three_cycles_each(self):
        opts = chaos.options(["sigkill", "--rate", "30", "--max-load", "1.5",
                              "--burst", "200", "--burst-rate", "400",
                              "--recover-timeout", "90"])
        print(f"seed {opts.seed}", file=sys.stderr)
        res, violations = chaos.run_chaos("smoke", opts, plan=PLAN)
        print(chaos.summary_line(res), file=sys.stderr)
        self.assertEqual(violations.total(), 0, violations.report())
        self.assertEqual(res["cycles"], dict(PLAN))
        self.assertEqual(res["sigterm_rcs"], [0, 0, 0])
        self.assertGreater(res["acked"], 0)
        self.assertTrue(res["backlog_lengths"], "no late joiner")
        self.assertTrue(all(n > 0 for n in res["backlog_lengths"].values()),
                        f"a late joiner got no backlog: {res['backlog_lengths']}")


if __name__ == "__main__":
    harness.main()
