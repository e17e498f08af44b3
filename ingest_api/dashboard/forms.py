"""The dashboard's forms (Flask-WTF): each carries a CSRF token and its own validation."""

from __future__ import annotations

import re

from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, RadioField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, InputRequired, Length, Optional, StopValidation, ValidationError

from ingest_api.dashboard import copy
from mbuzz.users import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH

KEY_NAME_MAX = 100
ORIGINS_MAX_CHARS = 8_000
MODEL_SOURCE_MAX = 20_000


class LoginForm(FlaskForm):
    email = StringField(copy.LOGIN_EMAIL, validators=[DataRequired(), Length(max=320)])
    password = PasswordField(copy.LOGIN_PASSWORD, validators=[DataRequired(), Length(max=MAX_PASSWORD_LENGTH)])


class SetupForm(FlaskForm):
    password = PasswordField(
        copy.SETUP_PASSWORD,
        validators=[
            DataRequired(),
            Length(
                min=MIN_PASSWORD_LENGTH,
                max=MAX_PASSWORD_LENGTH,
                message=copy.SETUP_LENGTH.format(min=MIN_PASSWORD_LENGTH, max=MAX_PASSWORD_LENGTH),
            ),
        ],
    )
    confirm = PasswordField(copy.SETUP_CONFIRM, validators=[DataRequired(), EqualTo("password", copy.SETUP_MISMATCH)])


class ReauthMixin:
    """The password again, asked for (and checked by `auth.reauthenticated`) when the sign-in is not recent."""

    password = PasswordField(copy.REAUTH_PASSWORD, validators=[Optional(), Length(max=MAX_PASSWORD_LENGTH)])


class KeyForm(ReauthMixin, FlaskForm):
    """A key's name, environment and kind; a publishable key's allowed origins, one per line (or
    separated by commas or spaces), each checked by `accounts.normalise_origin` → `self.allowed_origins`."""

    name = StringField(
        copy.KEYS_NAME, validators=[Length(max=KEY_NAME_MAX, message=copy.KEYS_NAME_TOO_LONG.format(max=KEY_NAME_MAX))]
    )
    environment = RadioField(
        copy.KEYS_ENV,
        choices=[SelectChoice("test", copy.KEYS_ENV_TEST), SelectChoice("live", copy.KEYS_ENV_LIVE)],
        default="test",
        validators=[InputRequired(copy.KEYS_ENV_REQUIRED)],
    )
    kind = RadioField(
        copy.KEYS_KIND,
        choices=[
            SelectChoice("secret", copy.KEYS_KIND_SECRET),
            SelectChoice("publishable", copy.KEYS_KIND_PUBLISHABLE),
        ],
        default="secret",
    )  # absent (older clients, the API's habits): a secret key
    origins = TextAreaField(
        copy.KEYS_ORIGINS,
        validators=[Length(max=ORIGINS_MAX_CHARS, message=copy.KEYS_ORIGINS_TOO_LONG.format(max=ORIGINS_MAX_CHARS))],
    )
    allowed_origins: tuple[str, ...] = ()

    def validate_origins(self, field) -> None:
        from mbuzz.accounts import MAX_ORIGINS, normalise_origin
        from mbuzz.errors import MbuzzError

        given = [o for o in re.split(r"[\s,]+", field.data or "") if o]
        if self.kind.data != "publishable":
            if given:
                raise ValidationError(copy.KEYS_ORIGINS_SECRET)
            return
        if not given:
            raise ValidationError(copy.KEYS_ORIGINS_REQUIRED)
        allowed, errors = [], []
        for origin in given:
            try:
                normal = normalise_origin(origin)
            except MbuzzError as exc:
                errors.append(str(exc))
            else:
                if normal not in allowed:
                    allowed.append(normal)
        if len(allowed) > MAX_ORIGINS:
            errors.append(copy.KEYS_ORIGINS_TOO_MANY.format(max=MAX_ORIGINS))
        if errors:
            field.errors = list(field.errors) + errors
            raise StopValidation()
        self.allowed_origins = tuple(allowed)


class BiGrantForm(ReauthMixin, FlaskForm):
    """Database access for BI tools: an optional login name (`mbuzz.bi.check_role_name`), else the default."""

    role_name = StringField(
        copy.BI_ROLE, filters=[lambda value: value.strip() if value else value], validators=[Optional()]
    )

    def validate_role_name(self, field) -> None:
        from mbuzz.bi import check_role_name
        from mbuzz.errors import MbuzzError

        try:
            check_role_name(field.data)
        except MbuzzError as exc:
            raise ValidationError(str(exc)) from None


class ConfirmForm(FlaskForm):
    """A button that needs only the CSRF token (sign out, activate…); `confirmed` for destructive ones."""

    confirmed = HiddenField()


class RevokeForm(ReauthMixin, ConfirmForm):
    pass


class ModelForm(FlaskForm):
    source = TextAreaField(
        copy.EDITOR_SOURCE,
        validators=[
            DataRequired(copy.EDITOR_EMPTY),
            Length(max=MODEL_SOURCE_MAX, message=copy.EDITOR_TOO_LONG.format(max=MODEL_SOURCE_MAX)),
        ],
    )
