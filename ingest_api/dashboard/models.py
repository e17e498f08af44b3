"""Models: presets (read-only), data-driven models, and the account's custom DSL models with the editor.

The editor checks on every submit (and, with JavaScript, as you type through
`POST /models/preview`, which answers the same panel as an HTML fragment).
"""

from __future__ import annotations

import psycopg
from flask import abort, current_app, flash, g, redirect, request, url_for

from ingest_api.dashboard import charts, copy, modeling
from ingest_api.dashboard.base import bp, login_required, not_found, render, scoped, unscoped
from ingest_api.dashboard.forms import ConfirmForm, ModelForm
from mbuzz import models_service as service

STARTER = """# Position based; the middle share goes to the middle touches in proportion
# to their channel weights (email counts double).
model "my_model"
  credit first_touch with 0.4
  credit last_touch with 0.4
  credit middle_touches with 0.2 proportionally
  weight channel("email") by 2
end
"""


def _preset_source(name: str) -> str:
    from attribution.models import PRESET_DIR, list_presets

    if name not in list_presets():
        abort(404)
    return (PRESET_DIR / f"{name}.dsl").read_text()


@bp.get("/models")
@login_required
def models():
    from attribution.models import DATA_DRIVEN, list_presets

    with scoped() as conn:
        custom = modeling.custom_models(conn, g.account_id)
    return render(
        "models.html", presets=list_presets(), data_driven=DATA_DRIVEN, custom=custom, toggle_form=ConfirmForm()
    )


@bp.get("/models/presets/<name>")
@login_required
def preset(name: str):
    return render("preset.html", name=name, source=_preset_source(name))


def _panel(source: str, name_for_check: str | None = None, model_id: str | None = None) -> dict:
    """Check `source` and, when it compiles, preview it: the editor's right-hand panel."""
    checked = modeling.check_source(source)
    panel: dict = {"checked": checked, "sample": None, "recent": None, "recent_missing": False, "failure": None}
    if checked.compiled is None:
        return panel
    with scoped() as conn:
        if any(
            m.name == checked.compiled["name"] and m.id != model_id for m in modeling.custom_models(conn, g.account_id)
        ):
            checked.problems.append(copy.EDITOR_NAME_TAKEN.format(name=checked.compiled["name"]))
    try:
        panel["sample"] = modeling.preview_sample(checked.compiled)
        with unscoped() as conn:  # the warehouse's journeys (marts): the query filters by account
            panel["recent"] = modeling.preview_recent(conn, g.account_id, checked.compiled)
        panel["recent_missing"] = panel["recent"] is None
    except (ValueError, psycopg.Error) as exc:  # data the engine refuses (not the program): say so, keep editing
        current_app.logger.warning("model preview failed: %s", type(exc).__name__)
        panel["failure"] = copy.PREVIEW_FAILED.format(reason=str(exc).splitlines()[0][:300])
    if panel["sample"]:
        panel["sample_chart"] = charts.bars(
            [f"{r['touch']}. {r['channel']}" for r in panel["sample"]],
            [r["credit"] for r in panel["sample"]],
            copy.PREVIEW_SAMPLE,
            fmt="{:.3f}",
        )
    return panel


def _editor(form: ModelForm, model: service.Model | None, status: int = 200, panel: dict | None = None):
    return render("editor.html", status, form=form, model=model, panel=panel, toggle_form=ConfirmForm())


def _save(form: ModelForm, model: service.Model | None):
    """Check and preview; with the Save button and no errors, store through the models service."""
    if not form.validate_on_submit():
        return _editor(form, model, 400)
    source = form.source.data
    panel = _panel(source, model_id=model.id if model else None)
    if not panel["checked"].ok or request.form.get("action") == "preview":
        return _editor(form, model, 200 if panel["checked"].ok else 422, panel)
    try:
        with scoped() as conn:
            if model is None:
                saved = service.create_model(conn, g.account_id, source)
            else:
                saved = service.update_model(conn, g.account_id, model.id, source=source)
    except service.ModelNotFound:
        not_found()
    except (service.InvalidModel, service.ModelNameTaken) as exc:  # e.g. a concurrent save took the name
        panel["checked"].problems.append(exc.message)
        return _editor(form, model, 422, panel)
    flash(copy.MODELS_SAVED.format(name=saved.name), "success")
    return redirect(url_for("dashboard.edit_model", model_id=saved.id), code=303)


@bp.route("/models/new", methods=["GET", "POST"])
@login_required
def new_model():
    if request.method == "POST":
        return _save(ModelForm(), None)
    start = request.args.get("from_preset")
    source = _preset_source(start).replace(f'model "{start}"', f'model "my_{start}"') if start else STARTER
    form = ModelForm(formdata=None, source=source)
    return _editor(form, None, panel=_panel(source))


def _own_model(model_id: str) -> service.Model:
    if model_id in service.presets():  # presets are read-only: their page shows the source
        abort(404)
    try:
        with scoped() as conn:
            return service.get_model(conn, g.account_id, model_id)
    except service.ModelNotFound:
        not_found()


@bp.route("/models/<model_id>", methods=["GET", "POST"])
@login_required
def edit_model(model_id: str):
    model = _own_model(model_id)
    if request.method == "POST":
        return _save(ModelForm(), model)
    form = ModelForm(formdata=None, source=model.source)
    return _editor(form, model, panel=_panel(model.source, model_id=model.id))


@bp.post("/models/<model_id>/<any(activate, deactivate):action>")
@login_required
def toggle_model(model_id: str, action: str):
    ConfirmForm()
    _own_model(model_id)
    try:
        with scoped() as conn:
            model = service.update_model(conn, g.account_id, model_id, is_active=action == "activate")
    except service.ModelNotFound:
        not_found()
    message = copy.MODELS_ACTIVATED if model.is_active else copy.MODELS_DEACTIVATED
    flash(message.format(name=model.name), "success")
    return redirect(
        request.form.get("back") == "editor"
        and url_for("dashboard.edit_model", model_id=model.id)
        or url_for("dashboard.models"),
        code=303,
    )


@bp.post("/models/preview")
@login_required
def preview():
    """The editor's panel as an HTML fragment, for the live preview (the CSRF token comes as a header)."""
    form = ModelForm()
    if not form.validate():
        return render("_panel.html", 400, panel=None, form_errors=form.source.errors)
    model_id = request.form.get("model_id") or None
    return render("_panel.html", panel=_panel(form.source.data, model_id=model_id), form_errors=[])
