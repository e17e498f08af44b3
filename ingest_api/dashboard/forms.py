"""The dashboard's forms (Flask-WTF): each carries a CSRF token and its own validation."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, RadioField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, InputRequired, Length, Optional

from ingest_api.dashboard import copy
from mbuzz.users import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH

KEY_NAME_MAX = 100
MODEL_SOURCE_MAX = 20_000


class LoginForm(FlaskForm):
    email = StringField(copy.LOGIN_EMAIL, validators=[DataRequired(), Length(max=320)])
    password = PasswordField(copy.LOGIN_PASSWORD, validators=[DataRequired(), Length(max=MAX_PASSWORD_LENGTH)])


class SetupForm(FlaskForm):
    password = PasswordField(copy.SETUP_PASSWORD,
                             validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH, max=MAX_PASSWORD_LENGTH, message=copy.SETUP_LENGTH.format(
                                 min=MIN_PASSWORD_LENGTH, max=MAX_PASSWORD_LENGTH))])
    confirm = PasswordField(copy.SETUP_CONFIRM, validators=[DataRequired(), EqualTo("password", copy.SETUP_MISMATCH)])


class ReauthMixin:
    """The password again, asked for (and checked by `auth.reauthenticated`) when the sign-in is not recent."""

    password = PasswordField(copy.REAUTH_PASSWORD, validators=[Optional(), Length(max=MAX_PASSWORD_LENGTH)])


class KeyForm(ReauthMixin, FlaskForm):
    name = StringField(copy.KEYS_NAME, validators=[
        Length(max=KEY_NAME_MAX, message=copy.KEYS_NAME_TOO_LONG.format(max=KEY_NAME_MAX))])
    environment = RadioField(copy.KEYS_ENV, choices=[SelectChoice("test", copy.KEYS_ENV_TEST), SelectChoice("live", copy.KEYS_ENV_LIVE)],
                             default="test", validators=[InputRequired(copy.KEYS_ENV_REQUIRED)])


class ConfirmForm(FlaskForm):
    """A button that needs only the CSRF token (sign out, activate…); `confirmed` for destructive ones."""

    confirmed = HiddenField()


class RevokeForm(ReauthMixin, ConfirmForm):
    pass


class ModelForm(FlaskForm):
    source = TextAreaField(copy.EDITOR_SOURCE, validators=[
        DataRequired(copy.EDITOR_EMPTY),
        Length(max=MODEL_SOURCE_MAX, message=copy.EDITOR_TOO_LONG.format(max=MODEL_SOURCE_MAX))])
