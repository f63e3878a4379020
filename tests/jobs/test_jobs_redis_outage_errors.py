"""Which Redis errors the worker rides out: a connection lost while arq watched a job's key surfaces
as redis-py's WatchError (its context the connection error) and must not end the worker process
(seen in the Redis-restart fault test); a WatchError of a key another worker changed is not an outage."""

from __future__ import annotations

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import WatchError

from vigilare.jobs.worker import is_redis_outage


def _watch_error_raised_while_handling(error: BaseException) -> WatchError:
    try:
        try:
            raise error
        except type(error):
            raise WatchError("A ConnectionError occurred on while watching one or more keys")  # noqa: B904
    except WatchError as watch:
        return watch


def test_a_connection_lost_while_watching_a_key_is_an_outage() -> None:
    assert is_redis_outage(
        _watch_error_raised_while_handling(RedisConnectionError("Connection reset by peer"))
    )
    assert is_redis_outage(RedisConnectionError("Error 111 connecting"))


def test_a_watched_key_changed_by_another_worker_is_not_an_outage() -> None:
    assert not is_redis_outage(WatchError("Watched variable changed."))
    assert not is_redis_outage(_watch_error_raised_while_handling(ValueError("not Redis")))
