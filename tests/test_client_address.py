"""The client's address behind reverse proxies: only the hops the installation's proxies added count."""

from django.test import RequestFactory, SimpleTestCase, override_settings

from sarai_eval.request_log import client_address


class ClientAddressTests(SimpleTestCase):
    def request(self, forwarded: str = ""):
        extra = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded else {}
        return RequestFactory().get("/", REMOTE_ADDR="10.0.0.2", **extra)

    def test_without_trusted_proxies_the_connections_address_is_the_clients(self):
        self.assertEqual(client_address(self.request("198.51.100.9")), "10.0.0.2")

    @override_settings(SARAI_TRUSTED_PROXIES=1)
    def test_behind_one_proxy_the_address_it_appended_is_the_clients(self):
        self.assertEqual(client_address(self.request("198.51.100.9")), "198.51.100.9")

    @override_settings(SARAI_TRUSTED_PROXIES=1)
    def test_an_address_the_client_wrote_itself_is_not_believed(self):
        # The client sent "X-Forwarded-For: 203.0.113.1"; nginx appended the real address.
        self.assertEqual(client_address(self.request("203.0.113.1, 198.51.100.9")), "198.51.100.9")

    @override_settings(SARAI_TRUSTED_PROXIES=2)
    def test_with_fewer_hops_than_trusted_proxies_the_connection_is_used(self):
        self.assertEqual(client_address(self.request("198.51.100.9")), "10.0.0.2")
