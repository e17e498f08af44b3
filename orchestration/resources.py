"""Resources: where the warehouse is. One environment variable decides (DATABASE_URL)."""

import dagster as dg
import psycopg


class Warehouse(dg.ConfigurableResource):
    """The PostgreSQL/TimescaleDB warehouse; empty url = mbuzz's own (DATABASE_URL or embedded)."""

    url: str = ""

    def resolved_url(self) -> str:
        from mbuzz.db import database_url

        return self.url or database_url()

    def connect(self, **kwargs) -> psycopg.Connection:
        from mbuzz.db import connect

        return connect(self.resolved_url(), **kwargs)

    def frame(self, query: str, params: dict | tuple | None = None):
        """Run a read query and return a pandas DataFrame."""
        import pandas as pd

        with self.connect() as conn:
            cur = conn.execute(query, params)
            return pd.DataFrame(cur.fetchall(), columns=[d.name for d in cur.description])
