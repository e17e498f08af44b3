"""`mbuzz serve`: the ingestion API under gunicorn (production) or Flask's server (`--dev`).

The database is resolved (and the embedded server started, and the schema
migrated) once, in this process, before any worker starts; each worker builds
its own app and connection pool on the same URL (DATABASE_URL, or the embedded
server's address in `.mbuzz/server.json`, re-read when a connection fails, so
the workers follow an embedded server that `mbuzz db up` moved to another port).
The access log leaves out the Basic-auth user name (a Segment write key is an
API key) and every log line goes through the key-redacting filter.

SIGTERM (a deploy, `docker stop`) stops gunicorn gracefully: the workers finish the
requests in flight and the process exits with status 0. gunicorn's threaded worker
only stops polling its listening socket then, and closes it when it exits, so a
connection made meanwhile would wait in the kernel's backlog and be reset at the
end; mbuzz's worker takes what is queued already and closes the socket at once, so
a new connection is refused (the master closed its copy first) and a client or load
balancer moves on to another server straight away.
"""

from __future__ import annotations

import click

ACCESS_LOG_FORMAT = '%(h)s %(t)s "%(r)s" %(s)s %(b)s %(M)sms'


def _prepare_database(migrate: bool) -> str:
    from mbuzz.db import connect, database_url
    from mbuzz.db.migrate import upgrade

    url = database_url(start=True)
    connect(url).close()
    if migrate:
        upgrade(url)
    return url


def _stopping_worker_closes_listeners(base: type) -> type:
    """`base` (gunicorn's ThreadWorker) that, when a stop makes it stop accepting, accepts
    the connections already queued and closes its listening sockets (see the module's doc)."""

    class Worker(base):
        def set_accept_enabled(self, enabled: bool) -> None:
            super().set_accept_enabled(enabled)
            if enabled or self.alive:
                return  # only the stop, not a worker at its connection limit
            for listener in self.sockets:
                for _ in range(self.worker_connections):
                    queued = self.nr_conns
                    self.accept(listener)  # non-blocking: nothing queued leaves nr_conns as it was
                    if self.nr_conns == queued:
                        break
                listener.close()

    Worker.__name__ = Worker.__qualname__ = f"Stopping{base.__name__}"
    return Worker


def run_gunicorn(host: str, port: int, workers: int, threads: int, access_log: bool) -> None:
    from gunicorn.app.base import BaseApplication
    from gunicorn.workers.gthread import ThreadWorker

    from ingest_api import redaction

    class Server(BaseApplication):
        def load_config(self) -> None:
            options = {
                "bind": f"{host}:{port}",
                "workers": workers,
                "worker_class": _stopping_worker_closes_listeners(ThreadWorker) if threads > 1 else "sync",
                "threads": threads,
                "accesslog": "-" if access_log else None,
                "access_log_format": ACCESS_LOG_FORMAT,
                "errorlog": "-",
                "timeout": 30,
                "graceful_timeout": 20,
                "keepalive": 5,
                "proc_name": "mbuzz-api",
                "post_worker_init": lambda worker: redaction.install(),
            }
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self):
            from ingest_api import create_app

            return create_app()

    Server().run()


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on (0.0.0.0 for all).")
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64), help="gunicorn worker processes.")
@click.option("--threads", default=4, show_default=True, type=click.IntRange(1, 64), help="Threads per worker.")
@click.option("--access-log/--no-access-log", default=True, show_default=True)
@click.option("--no-migrate", is_flag=True, help="Do not bring the schema to head first.")
@click.option("--dev", is_flag=True, help="Flask's development server (one process, not for production).")
def serve(host: str, port: int, workers: int, threads: int, access_log: bool, no_migrate: bool, dev: bool) -> None:
    """Serve the ingestion API (under gunicorn; --dev for Flask's server)."""
    from mbuzz.settings import mask_url

    url = _prepare_database(migrate=not no_migrate)
    click.echo(f"mbuzz API on http://{host}:{port}/api/v1 (database {mask_url(url)})", err=True)
    if dev:
        from ingest_api import create_app

        create_app().run(host=host, port=port, threaded=True, use_reloader=False)
        return
    run_gunicorn(host, port, workers, threads, access_log)
