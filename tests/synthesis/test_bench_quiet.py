"""Waiting for a quiet machine before a timed benchmark measurement."""

from unittest import TestCase, mock

from synthesis.engines import bench


class WaitForQuietTests(TestCase):
    def test_it_waits_until_the_load_falls_below_the_limit(self):
        naps = []
        with mock.patch.object(bench, "load_average", side_effect=[1.4, 0.9, 0.5, 0.1]):
            load = bench.wait_for_quiet(0.6, poll_s=20, timeout_s=600, sleep=naps.append)
        self.assertEqual(load, 0.5)
        self.assertEqual(naps, [20, 20])

    def test_it_gives_up_after_the_timeout_and_returns_the_load_it_measures_under(self):
        naps = []
        with mock.patch.object(bench, "load_average", return_value=2.0):
            load = bench.wait_for_quiet(0.6, poll_s=20, timeout_s=60, sleep=naps.append)
        self.assertEqual(load, 2.0)
        self.assertEqual(naps, [20, 20, 20])
