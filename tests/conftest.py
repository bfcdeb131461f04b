from tests.fixtures.brokers import *  # noqa: F403
