"""The broker restarted in the middle of a run, losing every message it held: each item is still done once.

The test runs its own redis-server that keeps nothing on disk, so a restart empties its queues, as
a broker without persistence (or one whose disk was lost) would. The items whose messages were
lost stay QUEUED in the database; `requeue_stale` (sent every minute by beat; here by the test,
through the broker, as beat would) sends them again once they waited longer than a lease.
"""

import signal
import sys
import time

import pytest
import redis
from django.test import SimpleTestCase

from tests.faults.processes import Installation, free_port, full_version

pytestmark = [
    pytest.mark.models,
    pytest.mark.processes,
    pytest.mark.serial,
]  # real models in real workers around a Redis it restarts

SENTENCES = (
    "Good morning.",
    "The cat sat down.",
    "It is raining.",
    "Close the door.",
    "We leave at noon.",
    "Turn left here.",
    "The tea is hot.",
    "Call me later.",
)
# Longer than one item takes in a loaded worker, so an item still running is never handed out
# again; short enough that lost messages are sent again within seconds.
LEASE_S = 20


class BrokerRestartTests(SimpleTestCase):
    def setUp(self):
        self.port = free_port()
        self.broker = f"redis://127.0.0.1:{self.port}/0"
        self.site = Installation(
            "sarai-faults-broker-", CELERY_BROKER_URL=self.broker, SARAI_ITEM_LEASE_SECONDS=str(LEASE_S)
        )
        self.addCleanup(self.site.stop_all)
        self.site.manage("migrate", "--noinput", "-v0")
        self.site.manage("load_demo")
        sentences = SENTENCES if full_version() else SENTENCES[:4]
        (self.site.folder / "short.txt").write_text("\n".join(sentences) + "\n")
        self.site.manage("import_sentences", str(self.site.folder / "short.txt"), "--name", "short")
        self.styles = "neutral,warm" if full_version() else "neutral"
        self.redis = self.site.start_redis(self.port)

    def waiting_messages(self) -> int:
        """Messages in the broker's inference queue (kombu keeps one list per priority step)."""
        broker = redis.Redis.from_url(self.broker)
        return sum(broker.llen(key) for key in broker.scan_iter("inference*") if broker.type(key) == b"list")

    def restart_broker(self) -> None:
        """SIGTERM and start again on the same port: it comes back empty (no RDB, no AOF)."""
        self.site.kill(self.redis, signal.SIGTERM)
        self.redis = self.site.start_redis(self.port)
        self.assertEqual(redis.Redis.from_url(self.broker).dbsize(), 0)

    def send_requeue_stale(self) -> None:
        """What beat does every minute: one requeue_stale message through the broker."""
        self.site.run(
            sys.executable, "-m", "celery", "-A", "sarai_eval", "call", "synthesis.tasks.requeue_stale"
        )

    def count(self, status: str) -> int:
        """Items of the run in this status."""
        return self.site.query("SELECT count(*) FROM synthesis_runitem WHERE status=?", (status,))[0][0]

    def test_every_item_is_done_once_when_the_broker_restarts_and_loses_its_queue(self):
        worker = self.site.start_worker()
        self.site.wait_for_log(worker, "ready.", timeout=120)
        self.site.manage("synthesize", "--set", "short", "--styles", self.styles, "--no-wait")
        total = self.site.query("SELECT total_count FROM synthesis_synthesisrun")[0][0]

        # Each restart lands once one more item is done (the first: once the models are loaded) and
        # while messages wait in the broker, so it loses them; a full run restarts twice.
        planned, restarts = (2 if full_version() else 1), []
        deadline = time.monotonic() + 300
        while self.site.query("SELECT status FROM synthesis_synthesisrun")[0][0] != "done":
            self.assertLess(time.monotonic(), deadline, self.site.log_tail())
            done = self.count("done")
            due = len(restarts) < planned and done >= (restarts[-1] + 2 if restarts else 1)
            if due and self.waiting_messages():
                self.restart_broker()
                restarts.append(done)
            elif restarts:
                self.send_requeue_stale()
                time.sleep(2)
            else:
                time.sleep(0.2)
        self.assertEqual(len(restarts), planned, "the run ended before every broker restart")

        items = self.site.query("SELECT id, status FROM synthesis_runitem ORDER BY id")
        self.assertEqual({status for _, status in items}, {"done"})
        samples = self.site.query("SELECT run_item_id FROM synthesis_sample ORDER BY run_item_id")
        self.assertEqual([row[0] for row in samples], [item_id for item_id, _ in items])  # one each
        self.assertEqual(
            self.site.query("SELECT done_count, failed_count, total_count FROM synthesis_synthesisrun"),
            [(total, 0, total)],
        )
