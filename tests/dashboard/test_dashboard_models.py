"""Models: presets read-only, the DSL editor (inline errors with line/column, preview), save, activate, tenancy."""

from __future__ import annotations

import pytest

from dashboard_helpers import csrf_token, post_form
from mbuzz import models_service

GOOD = 'model "half_and_half"\n  credit first_touch with 0.5\n  credit last_touch with 0.5\nend\n'
BROKEN = 'model "half_and_half"\n  credit first_touch with 0.5\n  credit frist_touch with 0.5\nend\n'


def test_models_page_lists_presets_and_data_driven(signed_in):
    html = signed_in.get("/dashboard/models").data.decode()
    for name in ("linear", "u_shaped", "w_shaped", "markov", "shapley"):
        assert name in html
    assert "No custom models yet" in html


def test_preset_source_is_read_only(signed_in):
    page = signed_in.get("/dashboard/models/presets/u_shaped")
    assert page.status_code == 200 and b"credit first_touch with 0.4" in page.data and b"<textarea" not in page.data
    assert signed_in.get("/dashboard/models/presets/nope").status_code == 404
    assert signed_in.get("/dashboard/models/linear").status_code == 404  # not editable


def test_new_model_from_a_preset_starts_with_its_source(signed_in):
    html = signed_in.get("/dashboard/models/new?from_preset=u_shaped").data.decode()
    assert "my_u_shaped" in html and "No errors." in html and "preview-sample" in html


def test_errors_are_shown_inline_with_line_and_column(signed_in, conn, admin):
    response = post_form(
        signed_in, "/dashboard/models/new", "/dashboard/models/new", {"source": BROKEN, "action": "save"}
    )
    assert response.status_code == 422
    html = response.data.decode()
    assert "Line 3, column 10: unknown selector `frist_touch`: did you mean first_touch?" in html
    assert "credit frist_touch" in html  # the source line under the message, with a caret
    assert models_service.list_models(conn, admin.account_id)[-1].preset  # nothing saved


@pytest.mark.parametrize(
    "source, message",
    [
        ("", "Write a model first."),
        (
            'model "a"\n  credit first_touch with 1.0\nend\nmodel "b"\n  credit last_touch with 1.0\nend\n',
            "2 models defined",
        ),
        ('model "linear"\n  credit all_touches with 1.0 equally\nend\n', "is the name of a preset"),
        ('model "x"\n  credit first_touch with 0.5\nend\n', "Line "),
        ("model", "Line 1"),
    ],
)
def test_bad_programs_are_refused(signed_in, source, message):
    response = post_form(
        signed_in, "/dashboard/models/new", "/dashboard/models/new", {"source": source, "action": "save"}
    )
    assert response.status_code in (400, 422)
    assert message in response.data.decode()


def test_preview_fragment_for_the_live_editor(signed_in):
    token = csrf_token(signed_in.get("/dashboard/models/new").data)
    ok = signed_in.post("/dashboard/models/preview", data={"source": GOOD}, headers={"X-CSRFToken": token})
    assert ok.status_code == 200 and b"No errors." in ok.data and b"<html" not in ok.data
    assert b"0.500" in ok.data  # first and last touch of the sample journey get half each
    bad = signed_in.post("/dashboard/models/preview", data={"source": BROKEN}, headers={"X-CSRFToken": token})
    assert b"Line 3, column 10" in bad.data


def test_save_edit_deactivate_activate(signed_in, conn, admin):
    saved = post_form(signed_in, "/dashboard/models/new", "/dashboard/models/new", {"source": GOOD, "action": "save"})
    assert saved.status_code == 303
    (model,) = [m for m in models_service.list_models(conn, admin.account_id) if not m.preset]
    assert model.name == "half_and_half" and model.is_active and saved.location.endswith(model.id)

    edit = signed_in.get(f"/dashboard/models/{model.id}")
    assert edit.status_code == 200 and b"half_and_half" in edit.data
    duplicate = post_form(
        signed_in, "/dashboard/models/new", "/dashboard/models/new", {"source": GOOD, "action": "save"}
    )
    assert duplicate.status_code == 422 and b"already has a model called" in duplicate.data

    changed = GOOD.replace("0.5", "0.25", 1).replace("last_touch with 0.5", "last_touch with 0.75")
    updated = post_form(
        signed_in,
        f"/dashboard/models/{model.id}",
        f"/dashboard/models/{model.id}",
        {"source": changed, "action": "save"},
    )
    assert updated.status_code == 303
    assert models_service.get_model(conn, admin.account_id, model.id).compiled["rules"][0]["share"] == 0.25

    off = post_form(signed_in, "/dashboard/models", f"/dashboard/models/{model.id}/deactivate", {})
    assert off.status_code == 303 and not models_service.get_model(conn, admin.account_id, model.id).is_active
    assert b"inactive" in signed_in.get("/dashboard/models").data
    on = post_form(signed_in, "/dashboard/models", f"/dashboard/models/{model.id}/activate", {})
    assert on.status_code == 303 and models_service.get_model(conn, admin.account_id, model.id).is_active


def test_another_accounts_model_is_not_found(signed_in, conn, other_admin):
    theirs = models_service.create_model(conn, other_admin.account_id, GOOD)
    assert signed_in.get(f"/dashboard/models/{theirs.id}").status_code == 404
    for path in (f"/dashboard/models/{theirs.id}", f"/dashboard/models/{theirs.id}/deactivate"):
        response = post_form(signed_in, "/dashboard/models", path, {"source": GOOD, "action": "save"})
        assert response.status_code == 404
    assert models_service.get_model(conn, other_admin.account_id, theirs.id).is_active
    assert b"half_and_half" not in signed_in.get("/dashboard/models").data


def test_preview_on_the_last_30_days_of_the_warehouse(database_url, admin):
    """`preview_recent` reads the journeys mart with the pipeline's own query (a throwaway table here)."""
    from datetime import datetime, timedelta, timezone

    import psycopg

    from ingest_api.dashboard import modeling

    compiled = models_service.validate_source(GOOD).compiled
    now = datetime.now(timezone.utc)
    with psycopg.connect(database_url) as conn:  # one transaction, rolled back: nothing stays
        if conn.execute("select to_regclass('marts.fct_conversion_journeys')").fetchone()[0]:
            pytest.skip("the real journeys mart exists in this database")
        conn.execute("create schema if not exists marts")
        conn.execute("""
            create table marts.fct_conversion_journeys (
                account_id text, environment text, journey_id text, conversion_id text, converted boolean,
                conversion_ts timestamptz, conversion_type text, revenue numeric, touch_index int,
                touch_ts timestamptz, session_id text, channel text, utm_source text, utm_medium text,
                utm_campaign text, milestones text)""")
        assert modeling.preview_recent(conn, admin.account_id, compiled) is None  # no journeys yet
        for j, channels in enumerate((("paid_search", "email", "direct"), ("email", "paid_search"))):
            for i, channel in enumerate(channels):
                conn.execute(
                    "insert into marts.fct_conversion_journeys values (%s, 'live', %s, %s, true, %s, 'purchase', 50,"
                    " %s, %s, null, %s, null, null, null, null)",
                    (
                        admin.account_id,
                        f"j{j}",
                        f"conv_{j}",
                        now - timedelta(days=1),
                        i,
                        now - timedelta(days=5 - i),
                        channel,
                    ),
                )
        recent = modeling.preview_recent(conn, admin.account_id, compiled)
        conn.rollback()
    assert recent["conversions"] == 2
    credited = {channel: conversions for channel, conversions, _revenue, _share in recent["channels"]}
    # half to the first touch, half to the last: paid_search first of one journey and last of the other
    assert credited == pytest.approx({"paid_search": 1.0, "email": 0.5, "direct": 0.5})
