"""The SDK's delivery against a live `mbuzz serve`, through a real proxy that injects faults:
batching, retries (503, 429 + Retry-After, a lost answer), no retry of other 4xx, per-item
rejections, the bounded queue, an unreachable host, and delivery at interpreter exit."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sdk_helpers import rows, wait_until

from tests.live_server import free_port

SDK = Path(__file__).resolve().parents[1]


def stored_ids(conn, tenant) -> list[str]:
    return sorted(r["event_id"] for r in rows(conn, "events", tenant.account_id))


def test_calls_are_batched_and_each_event_is_stored_once(proxy, conn, tenant, make_client):
    client = make_client(tenant.live_key, proxy.url, max_batch_size=10, flush_interval=30)
    ids = [client.track(f"vis_{i % 3}", "Step Done", {"i": i}) for i in range(35)]
    assert client.flush(timeout=30)

    assert [len(r.events()) for r in proxy.requests] == [10, 10, 10, 5]  # full batches at once, the rest on flush
    assert stored_ids(conn, tenant) == sorted(ids)
    stats = client.stats
    assert (stats.calls, stats.sent, stats.duplicates, stats.retried, stats.pending) == (35, 35, 0, 0, 0)


def test_a_batch_is_sent_after_the_flush_interval_without_flush(proxy, conn, tenant, make_client):
    client = make_client(tenant.live_key, proxy.url, max_batch_size=100, flush_interval=1.0)
    ids = {client.track("vis_i", "tick") for _ in range(3)}
    wait_until(lambda: client.stats.sent == 3)
    assert [len(r.events()) for r in proxy.requests] == [3]
    assert set(stored_ids(conn, tenant)) == ids


def test_503s_are_retried_and_nothing_is_lost_or_doubled(proxy, conn, tenant, make_client):
    proxy.fail_next(2, 503, retry_after="0")
    client = make_client(tenant.live_key, proxy.url)
    ids = [client.track("vis_r", "signup", {"n": n}) for n in range(20)]
    assert client.flush(timeout=30)

    statuses = [r.status for r in proxy.requests]
    assert statuses[:2] == [503, 503] and set(statuses[2:]) == {202}
    assert proxy.requests[0].body == proxy.requests[1].body == proxy.requests[2].body  # the same batch again
    assert [r.headers.get("X-Retry-Count") for r in proxy.requests[:3]] == [None, "1", "2"]
    assert stored_ids(conn, tenant) == sorted(ids)
    stats = client.stats
    assert (stats.sent, stats.retried, stats.failed, stats.duplicates) == (20, 2, 0, 0)


def test_a_retry_after_a_lost_answer_is_a_duplicate_not_a_second_event(proxy, conn, tenant, make_client):
    proxy.fail_next(1, 503, forward=True)  # mbuzz stores the batch, the SDK sees a 503
    client = make_client(tenant.live_key, proxy.url)
    ids = [client.page("vis_l", f"https://shop.example.com/{n}") for n in range(5)]
    assert client.flush(timeout=30)
    proxy.fail_next(1, 502, forward=True)  # the conversion too: stored, answer lost
    assert client.conversion("purchase", visitor_id="vis_l", revenue=5, currency="EUR")
    assert client.flush(timeout=30)

    assert [r.status for r in proxy.requests] == [503, 202, 502, 200]  # the repeat conversion answers 200
    assert stored_ids(conn, tenant) == sorted(ids)
    assert len(rows(conn, "conversions", tenant.account_id)) == 1
    stats = client.stats
    assert (stats.sent, stats.duplicates, stats.retried) == (6, 6, 2)


def test_429_waits_for_retry_after(proxy, conn, tenant, make_client):
    proxy.fail_next(1, 429, retry_after="1")
    client = make_client(tenant.live_key, proxy.url, backoff=0.001, backoff_max=0.01)  # jitter alone: ~ms
    event_id = client.track("vis_429", "signup")
    assert client.flush(timeout=30)

    refused, retried = proxy.requests
    assert (refused.status, retried.status) == (429, 202)
    assert retried.at - refused.at >= 0.95  # the server's Retry-After, not the ~ms backoff
    assert stored_ids(conn, tenant) == [event_id]


def test_other_4xx_are_not_retried_and_the_key_is_never_logged(proxy, conn, tenant, make_client, caplog):
    reported = []
    bad_key = "sk_live_" + "x" * 32
    client = make_client(bad_key, proxy.url, on_error=lambda error, calls: reported.append((error, calls)))
    with caplog.at_level(logging.DEBUG, logger="mbuzz_sdk"):
        client.track("vis_401", "signup")
        client.track("vis_401", "login")
        assert client.flush(timeout=30)

    assert [r.status for r in proxy.requests] == [401]
    assert (client.stats.failed, client.stats.retried, client.stats.sent) == (2, 0, 0)
    [(response, calls)] = reported
    assert response.status == 401 and response.body["error"]["code"]
    assert [c["event_type"] for c in calls] == ["signup", "login"]
    assert "401" in caplog.text and bad_key not in caplog.text
    assert "x" * 32 not in repr(client)


def test_items_rejected_inside_a_202_are_counted_and_reported(live_server, conn, tenant, make_client):
    reported = []
    client = make_client(
        tenant.live_key, live_server.url, on_error=lambda error, calls: reported.append((error, calls))
    )
    good = client.track("vis_j", "signup")
    future = client.track("vis_j", "signup", timestamp=datetime.now(timezone.utc) + timedelta(days=1))
    also_good = client.track("vis_j", "login")
    assert client.flush(timeout=30)

    stats = client.stats
    assert (stats.sent, stats.rejected, stats.failed) == (2, 1, 0)
    [(response, calls)] = reported
    assert response.status == 202 and response.body["rejected"][0]["index"] == 1
    assert [c["event_id"] for c in calls] == [future]
    assert stored_ids(conn, tenant) == sorted([good, also_good])


def test_a_full_queue_drops_the_oldest_calls_and_never_blocks(proxy, conn, tenant, make_client):
    client = make_client(tenant.live_key, proxy.url, max_queue_size=5, max_batch_size=5)
    proxy.hold()  # the first request waits at the proxy: the sender is stuck on it
    in_flight = client.track("vis_q", "first")
    assert proxy.arrived.wait(10)

    calls = []
    caller = threading.Thread(target=lambda: calls.extend(client.track("vis_q", "later", {"n": n}) for n in range(20)))
    caller.start()
    caller.join(timeout=10)
    assert not caller.is_alive() and len(calls) == 20  # 20 calls returned while nothing could be sent
    assert (client.stats.dropped, client.stats.pending) == (15, 6)

    proxy.release()
    assert client.flush(timeout=30)
    assert stored_ids(conn, tenant) == sorted([in_flight, *calls[-5:]])  # the newest 5 survived
    stats = client.stats
    assert (stats.calls, stats.sent, stats.dropped) == (21, 6, 15)


def test_flush_gives_up_waiting_after_its_timeout(proxy, tenant, make_client):
    client = make_client(tenant.live_key, proxy.url)
    proxy.hold()
    client.track("vis_f", "signup")
    assert client.flush(timeout=0.3) is False and client.stats.pending == 1
    proxy.release()
    assert client.flush(timeout=30) and client.stats.sent == 1


def test_an_unreachable_host_never_raises_and_every_call_is_accounted_for(tenant, make_client):
    reported = []

    def on_error(error, calls):
        reported.append((error, calls))
        raise RuntimeError("a broken on_error must not break the SDK either")

    client = make_client(tenant.live_key, f"http://127.0.0.1:{free_port()}", max_retries=2, on_error=on_error)
    client.track("vis_u", "signup")
    client.page("vis_u", "https://shop.example.com/")
    client.conversion("signup", visitor_id="vis_u")
    assert client.flush(timeout=30)

    stats = client.stats
    assert (stats.calls, stats.failed, stats.sent, stats.retried) == (3, 3, 0, 4)  # 2 requests × 2 retries
    assert [len(calls) for _, calls in reported] == [2, 1]
    assert all(isinstance(error, OSError) for error, _ in reported)

    client.close()
    assert client.track("vis_u", "after close") is None  # dropped, still no exception
    assert client.stats.dropped == 1


def run_script(script: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        cwd=SDK,
    )


def test_calls_made_just_before_exit_are_delivered(live_server, conn, tenant):
    result = run_script(
        """
        import os
        from mbuzz_sdk import Client

        client = Client(os.environ["KEY"], os.environ["HOST"], flush_interval=60)
        for n in range(7):
            client.track("vis_exit", "signup", {"n": n})
        # no flush(), no close(): the interpreter exits with the calls queued
    """,
        {"KEY": tenant.live_key, "HOST": live_server.url},
    )
    assert result.returncode == 0, result.stderr
    assert sorted(r["properties"]["n"] for r in rows(conn, "events", tenant.account_id)) == list(range(7))


def test_exit_is_bounded_by_the_shutdown_timeout_when_the_host_is_down():
    # ten retries 0-30 s apart would outlast run_script's 120 s timeout: close() at exit gives up after 1 s
    result = run_script(
        """
        import os
        from mbuzz_sdk import Client

        client = Client("sk_live_" + "k" * 32, os.environ["HOST"], shutdown_timeout=1, backoff=30, backoff_max=30)
        client.track("vis_down", "signup")
    """,
        {"HOST": f"http://127.0.0.1:{free_port()}"},
    )
    assert result.returncode == 0, result.stderr
    assert "1 calls were not delivered within 1.0 s of close()" in result.stderr


def test_a_forked_child_sends_its_own_calls(live_server, conn, tenant):
    result = run_script(
        """
        import os
        from mbuzz_sdk import Client

        client = Client(os.environ["KEY"], os.environ["HOST"])
        client.track("vis_parent", "before fork")
        assert client.flush(30)
        pid = os.fork()
        if pid == 0:  # the child: a fresh queue and its own sender thread
            client.track("vis_child", "in child")
            os._exit(0 if client.flush(30) and client.stats.sent == 2 else 3)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, status
        client.track("vis_parent", "after fork")
    """,
        {"KEY": tenant.live_key, "HOST": live_server.url},
    )
    assert result.returncode == 0, result.stderr
    assert sorted(r["visitor_id"] for r in rows(conn, "events", tenant.account_id)) == [
        "vis_child",
        "vis_parent",
        "vis_parent",
    ]
