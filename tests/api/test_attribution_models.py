"""/api/v1/attribution_models: presets listed read-only, custom DSL models created, validated
(422 with line and column), renamed, (de)activated and deleted; tenancy; the service module the
dashboard shares."""

from __future__ import annotations

import pytest

from attribution import list_presets

WEIGHTED = """model "Channel Weighted"
  weight channel("paid_search") by 1.5
  weight channel("email") by 1.2
  distribute proportionally
end
"""
U_LIKE = """model "{name}"
  credit first_touch with 0.4
  credit last_touch with 0.4
  credit middle_touches with 0.2 equally
end
"""


def create(client, tenant, source, **extra):
    return client.post("/api/v1/attribution_models", json={"source": source, **extra}, headers=tenant.bearer())


def test_list_has_presets_read_only_then_custom_models(client, tenant):
    create(client, tenant, U_LIKE.format(name="Zeta"))
    create(client, tenant, WEIGHTED)
    response = client.get("/api/v1/attribution_models", headers=tenant.bearer())
    assert response.status_code == 200
    models = response.json["models"]
    presets = [m for m in models if m["preset"]]
    assert [m["id"] for m in presets] == list_presets()
    assert all(m["id"] == m["name"] and m["is_active"] and m["created_at"] is None for m in presets)
    linear = next(m for m in presets if m["id"] == "linear")
    assert "credit all_touches with 1.0 equally" in linear["source"]
    assert linear["compiled"]["rules"][0]["selector"] == "all_touches"
    assert [m["name"] for m in models if not m["preset"]] == ["Channel Weighted", "Zeta"]


def test_create_stores_source_and_compiled(client, conn, tenant):
    response = create(client, tenant, WEIGHTED)
    assert response.status_code == 201, response.json
    model = response.json
    assert model["id"].startswith("amod_") and model["name"] == "Channel Weighted"
    assert model["preset"] is False and model["is_active"] is True and model["source"] == WEIGHTED
    assert model["compiled"]["weights"] == {"paid_search": 1.5, "email": 1.2}
    assert model["warnings"] == []
    row = conn.execute(
        "select account_id, source, compiled, is_active from raw.attribution_models where id = %s", (model["id"],)
    ).fetchone()
    assert row == (tenant.account_id, WEIGHTED, model["compiled"], True)
    shown = client.get(f"/api/v1/attribution_models/{model['id']}", headers=tenant.bearer())
    assert shown.status_code == 200 and shown.json["compiled"] == model["compiled"]


def test_journey_by_account_is_stored_in_the_compiled_model(client, tenant, other_tenant):
    source = 'model "Deals"\n  journey_by account\n  distribute equally\nend\n'
    response = create(client, tenant, source)
    assert response.status_code == 201, response.json
    assert response.json["compiled"]["journey_by"] == "account"  # the run gives it company journeys (docs/b2b.md)
    model_id = response.json["id"]
    assert client.get(f"/api/v1/attribution_models/{model_id}", headers=other_tenant.bearer()).status_code == 404


def test_create_inactive_and_unknown_channel_is_a_warning(client, tenant):
    source = 'model "Odd"\n  weight channel("carrier_pigeon") by 2\n  distribute proportionally\nend\n'
    response = create(client, tenant, source, is_active=False)
    assert response.status_code == 201, response.json
    assert response.json["is_active"] is False
    assert response.json["warnings"] and response.json["warnings"][0]["line"] == 2
    assert "carrier_pigeon" in response.json["warnings"][0]["message"]


@pytest.mark.parametrize(
    "source, line, column, fragment",
    [
        ('model "Half"\n  credit first_touch with 0.5\nend\n', 1, 1, "credits sum to 0.5"),
        ('model "Bad"\n  credit first_touch with 1.0\n  crdit last_touch with 0.5\nend\n', 3, 3, ""),
        ('model "Neg"\n  weight channel("email") by 0\n  distribute equally\nend\n', 2, None, ""),
        ('model "Sel"\n  credit nowhere_touches with 1.0\nend\n', 2, None, ""),
        ('model "Open"\n  credit first_touch with 1.0\n', None, None, ""),
        ('model "Co"\n  journey_by company\n  distribute equally\nend\n', 2, 3, "journey_by takes person or account"),
    ],
)
def test_invalid_dsl_is_422_with_line_and_column(client, tenant, source, line, column, fragment):
    response = create(client, tenant, source)
    assert response.status_code == 422, response.json
    error = response.json["error"]
    assert error["code"] == "validation_error"
    details = error["details"]
    assert isinstance(details, list) and details
    assert all(set(d) == {"line", "column", "message"} and d["line"] >= 1 and d["column"] >= 1 for d in details)
    if line is not None:
        assert details[0]["line"] == line
    if column is not None:
        assert details[0]["column"] == column
    assert fragment in details[0]["message"]
    assert f"line {details[0]['line']}, column {details[0]['column']}" in error["message"]


def test_two_models_in_one_program_are_422(client, tenant):
    response = create(client, tenant, U_LIKE.format(name="A") + U_LIKE.format(name="B"))
    assert response.status_code == 422 and "exactly one" in response.json["error"]["message"]


@pytest.mark.parametrize(
    "body, fragment",
    [
        ({}, "source: is required"),
        ({"source": ""}, "source: shorter than 1"),
        ({"source": 12}, "source: must be of type string"),
        ({"source": WEIGHTED, "is_active": "yes"}, "is_active: must be of type boolean"),
        ({"source": WEIGHTED, "name": "x"}, "name: unknown field"),
    ],
)
def test_invalid_bodies_are_422(client, tenant, body, fragment):
    response = client.post("/api/v1/attribution_models", json=body, headers=tenant.bearer())
    assert response.status_code == 422
    assert fragment in response.json["error"]["message"], response.json


def test_duplicate_name_is_409(client, tenant, other_tenant):
    assert create(client, tenant, WEIGHTED).status_code == 201
    again = create(client, tenant, WEIGHTED)
    assert again.status_code == 409 and again.json["error"]["code"] == "conflict"
    assert "Channel Weighted" in again.json["error"]["message"]
    preset_name = create(client, tenant, U_LIKE.format(name="linear"))
    assert preset_name.status_code == 409 and "built-in" in preset_name.json["error"]["message"]
    # names are per account
    assert create(client, other_tenant, WEIGHTED).status_code == 201


def test_patch_source_active_and_rename(client, tenant):
    model = create(client, tenant, U_LIKE.format(name="Mine")).json
    off = client.patch(f"/api/v1/attribution_models/{model['id']}", json={"is_active": False}, headers=tenant.bearer())
    assert off.status_code == 200 and off.json["is_active"] is False and off.json["source"] == model["source"]
    on = client.patch(f"/api/v1/attribution_models/{model['id']}", json={"is_active": True}, headers=tenant.bearer())
    assert on.json["is_active"] is True
    renamed = client.patch(
        f"/api/v1/attribution_models/{model['id']}",
        json={"source": U_LIKE.format(name="Ours")},
        headers=tenant.bearer(),
    )
    assert renamed.status_code == 200 and renamed.json["name"] == "Ours" and renamed.json["compiled"]["name"] == "Ours"
    assert renamed.json["updated_at"] >= model["updated_at"]
    shown = client.get(f"/api/v1/attribution_models/{model['id']}", headers=tenant.bearer()).json
    assert shown["name"] == "Ours" and shown["is_active"] is True


def test_patch_errors(client, tenant):
    first = create(client, tenant, U_LIKE.format(name="First")).json
    create(client, tenant, U_LIKE.format(name="Second"))
    url = f"/api/v1/attribution_models/{first['id']}"
    clash = client.patch(url, json={"source": U_LIKE.format(name="Second")}, headers=tenant.bearer())
    assert clash.status_code == 409
    invalid = client.patch(
        url, json={"source": 'model "First"\n  credit first_touch with 0.7\nend'}, headers=tenant.bearer()
    )
    assert invalid.status_code == 422 and invalid.json["error"]["details"][0]["line"] == 1
    empty = client.patch(url, json={}, headers=tenant.bearer())
    assert empty.status_code == 422
    # nothing changed by the failed attempts
    assert client.get(url, headers=tenant.bearer()).json["source"] == first["source"]


@pytest.mark.parametrize("method", ["patch", "delete"])
def test_presets_are_read_only_405(client, tenant, method):
    kwargs = {"json": {"is_active": False}} if method == "patch" else {}
    response = getattr(client, method)("/api/v1/attribution_models/linear", headers=tenant.bearer(), **kwargs)
    assert response.status_code == 405, response.json
    assert response.json["error"]["code"] == "method_not_allowed"
    assert "read-only" in response.json["error"]["message"]
    assert response.headers["Allow"] == "GET"
    assert client.get("/api/v1/attribution_models/linear", headers=tenant.bearer()).json["is_active"] is True


def test_delete(client, conn, tenant):
    model = create(client, tenant, WEIGHTED).json
    url = f"/api/v1/attribution_models/{model['id']}"
    response = client.delete(url, headers=tenant.bearer())
    assert response.status_code == 204 and response.data == b""
    assert client.get(url, headers=tenant.bearer()).status_code == 404
    assert client.delete(url, headers=tenant.bearer()).status_code == 404
    assert conn.execute("select count(*) from raw.attribution_models where id = %s", (model["id"],)).fetchone()[0] == 0
    assert create(client, tenant, WEIGHTED).status_code == 201  # the name is free again


@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_other_accounts_model_is_404_and_untouched(client, conn, tenant, other_tenant, method):
    model = create(client, other_tenant, WEIGHTED).json
    kwargs = {"json": {"is_active": False}} if method == "patch" else {}
    response = getattr(client, method)(f"/api/v1/attribution_models/{model['id']}", headers=tenant.bearer(), **kwargs)
    assert response.status_code == 404 and response.json["error"]["code"] == "not_found"
    row = conn.execute("select is_active from raw.attribution_models where id = %s", (model["id"],)).fetchone()
    assert row == (True,)
    listed = client.get("/api/v1/attribution_models", headers=tenant.bearer()).json["models"]
    assert model["id"] not in {m["id"] for m in listed}


def test_unknown_method_and_no_key(client, tenant):
    assert client.put("/api/v1/attribution_models/linear", json={}, headers=tenant.bearer()).status_code == 405
    assert client.get("/api/v1/attribution_models").status_code == 401
    assert client.post("/api/v1/attribution_models", json={"source": WEIGHTED}).status_code == 401
    assert client.delete("/api/v1/attribution_models/amod_x").status_code == 401


def test_service_is_usable_without_flask(conn, tenant):
    from mbuzz import models_service

    model = models_service.create_model(conn, tenant.account_id, U_LIKE.format(name="Direct"))
    assert models_service.get_model(conn, tenant.account_id, model.id).name == "Direct"
    assert models_service.resolve_report_model(conn, tenant.account_id, "Direct") == model.id
    assert models_service.resolve_report_model(conn, tenant.account_id, "markov") == "markov"
    assert models_service.resolve_report_model(conn, tenant.account_id, "nope") is None
    with pytest.raises(models_service.InvalidModel) as info:
        models_service.validate_source('model "x"\n  credit first_touch with 2\nend')
    assert {(e["line"], e["column"]) for e in info.value.errors} == {(1, 1), (2, 27)}
    with pytest.raises(models_service.PresetReadOnly):
        models_service.delete_model(conn, tenant.account_id, "u_shaped")
