"""Every user-facing string of the dashboard: labels, help, empty states, errors.

Templates read these as `copy.NAME`; views use them for flashes and form
errors. Placeholders are `str.format` fields.
"""

from __future__ import annotations

PRODUCT = "mbuzz"
SKIP_TO_CONTENT = "Skip to content"
NAV_LABEL = "Main"
NAV_OVERVIEW = "Overview"
NAV_KEYS = "API keys"
NAV_INSTALL = "Install"
NAV_DOCS = "Docs"
NAV_REPORTS = "Attribution"
NAV_MODELS = "Models"
NAV_DATABASE = "Database access"
SIGNED_IN_AS = "Signed in as {email} · {account}"
SIGN_OUT = "Sign out"
FOOTER = "mbuzz: self-hosted multi-touch attribution · API reference at /api/v1/docs"

# --- sign-in ---------------------------------------------------------------------------------------------------
LOGIN_TITLE = "Sign in"
LOGIN_INTRO = "Sign in with the e-mail and password of an account admin."
LOGIN_EMAIL = "E-mail"
LOGIN_PASSWORD = "Password"
LOGIN_SUBMIT = "Sign in"
LOGIN_FAILED = "That e-mail and password do not match an account admin. Check both and try again."
LOGIN_HELP = (
    "No user yet? Create one with `mbuzz users create --account ACCOUNT_ID --email you@example.com`; "
    "after `make demo`, sign in with the credentials it printed."
)
SIGNED_OUT = "You are signed out."
LOGIN_NEEDED = "Please sign in to see that page."
LOGIN_EMAIL_THROTTLED = (
    "Too many wrong passwords for this e-mail address. Wait {minutes} minute(s) and try "
    "again, or ask an admin for a setup link (`mbuzz users create … --setup-link`)."
)
REAUTH_PASSWORD = "Your password"
REAUTH_HELP = "You signed in more than {minutes} minutes ago: confirm your password to change keys or database access."
REAUTH_NEEDED = "Enter your password: changing keys or database access needs a sign-in from the last {minutes} minutes."
REAUTH_WRONG = "That is not your password. Nothing was changed; try again."
SETUP_TITLE = "Choose your password"
SETUP_INTRO = "Set a password for {email}. This link works once."
SETUP_PASSWORD = "New password"
SETUP_CONFIRM = "Repeat the password"
SETUP_SUBMIT = "Set password and sign in"
SETUP_LENGTH = "Passwords need at least {min} characters (and at most {max})."
SETUP_MISMATCH = "The two passwords are different."
SETUP_DONE = "Your password is set. Welcome to mbuzz."
SETUP_BAD_LINK = (
    "This setup link cannot be used: {reason}. Ask an admin to run `mbuzz users create … --setup-link` again."
)

# --- overview --------------------------------------------------------------------------------------------------
OVERVIEW_TITLE = "Overview"
RANGE_LEGEND = "Date range"
RANGE_FROM = "From"
RANGE_TO = "To"
RANGE_APPLY = "Show"
BAD_DATE = "“{value}” is not a date (use YYYY-MM-DD); the default was used."
DATES_REVERSED = "The start date was after the end date; they were swapped."
RANGE_TOO_LONG = "Ranges are limited to {days} days; the range was shortened."
USAGE_TITLE = "Usage"
USAGE_CHART = "Events per day, test and live"
USAGE_TOTAL = "{total} events in the range: {live} live, {test} test."
USAGE_BY_KEY = "Events per API key"
USAGE_NO_KEY = "(no key: loaded directly)"
USAGE_EMPTY = "No events in this range. Send one with a test key: see API keys."
UTM_TITLE = "UTM breakdown (top 10)"
UTM_HEADINGS = {"utm_source": "Sources", "utm_medium": "Mediums", "utm_campaign": "Campaigns"}
UTM_EMPTY = "No events with UTM parameters in this range. Tag your links with utm_source, utm_medium and utm_campaign."
EVENTS_TITLE = "Recent events"
EVENTS_FILTER_TYPE = "Event type"
EVENTS_FILTER_ENV = "Environment"
EVENTS_ANY = "All"
EVENTS_FILTER_APPLY = "Filter"
EVENTS_EMPTY = "No events yet. Create a test key on the API keys page and POST one to /api/v1/events."
EVENTS_EMPTY_FILTERED = "No events match this filter."
EVENTS_PREVIOUS = "Newer"
EVENTS_NEXT = "Older"
EVENTS_PAGE = "Page {page}"
COL_TIME = "Time (UTC)"
COL_TYPE = "Type"
COL_ENV = "Env"
COL_VISITOR = "Visitor"
COL_URL = "URL / UTM"
COL_KEY = "Key"
COL_EVENTS = "Events"
COL_VISITORS = "Visitors"
COL_VALUE = "Value"
COL_LAST_EVENT = "Last received (UTC)"
COL_DAY = "Day"
COL_TEST = "Test"
COL_LIVE = "Live"

# --- API keys --------------------------------------------------------------------------------------------------
KEYS_TITLE = "API keys"
KEYS_INTRO = (
    "Test keys write test events, live keys live ones; reports default to live. "
    "Secret keys (sk_…) are for your servers and can do everything; a secret key is shown once, when "
    "it is created: mbuzz keeps only a digest of it. Publishable keys (pk_…) go into web pages: they "
    "may only send events and conversions, only from the origins you allow, and may be shown again."
)
KEYS_CREATE_TITLE = "Create a key"
KEYS_NAME = "Name"
KEYS_NAME_HELP = "Where the key is used, e.g. “website” or “backend”."
KEYS_ENV = "Environment"
KEYS_ENV_TEST = "Test"
KEYS_ENV_LIVE = "Live"
KEYS_KIND = "Kind"
KEYS_KIND_SECRET = "Secret (server)"
KEYS_KIND_PUBLISHABLE = "Publishable (website)"
KEYS_ORIGINS = "Allowed origins"
KEYS_ORIGINS_HELP = (
    "For a publishable key: the sites whose pages may send with it, one per line, e.g. "
    "https://shop.example or https://*.shop.example for every subdomain."
)
KEYS_ORIGINS_REQUIRED = "A publishable key needs at least one allowed origin, e.g. https://shop.example."
KEYS_ORIGINS_SECRET = (
    "Allowed origins are for publishable keys: a secret key must never be used in a browser. "
    "Choose “Publishable”, or leave the origins empty."
)
KEYS_ORIGINS_TOO_MANY = "At most {max} origins per key; use a wildcard such as https://*.example.com."
KEYS_ORIGINS_TOO_LONG = "The origins are over {max} characters."
KEYS_CREATE = "Create key"
KEYS_CREATED = "Your new {environment} key “{name}”"
KEYS_CREATED_ONCE = "Copy it now. It will not be shown again; if you lose it, revoke it and create another."
KEYS_CREATED_PUBLISHABLE = (
    "A publishable key is public by design: it stays visible in the list below. Its snippets are on the Install page."
)
KEYS_INSTALL = "Install it on your site"
KEYS_COPY = "Copy"
KEYS_COPIED = "Copied"
KEYS_COPY_FAILED = "Select the key and copy it by hand"
KEYS_LIST_TITLE = "Keys"
KEYS_EMPTY = "No keys yet. Create a test key above to start sending events."
KEYS_ACTIVE = "active"
KEYS_REVOKED = "revoked"
KEYS_NEVER_USED = "never"
KEYS_REVOKE = "Revoke"
KEYS_REVOKE_CONFIRM = "Revoke {key}? Requests with it will be refused at once. This cannot be undone."
KEYS_REVOKE_TITLE = "Revoke this key?"
KEYS_REVOKE_YES = "Yes, revoke it"
KEYS_REVOKE_NO = "Cancel"
KEYS_REVOKED_FLASH = "Key {key} is revoked."
KEYS_NAME_TOO_LONG = "Names can have at most {max} characters."
KEYS_ENV_REQUIRED = "Choose test or live."
COL_NAME = "Name"
COL_MASKED = "Key"
COL_KIND = "Kind"
COL_ORIGINS = "Allowed origins"
KEYS_SECRET = "secret"
KEYS_PUBLISHABLE = "publishable"
KEYS_COPY_KEY = "Copy {key}"
COL_STATUS = "Status"
COL_CREATED = "Created (UTC)"
COL_LAST_USED = "Last used (UTC)"
COL_ACTIONS = "Actions"
UNNAMED = "(unnamed)"

# --- install ---------------------------------------------------------------------------------------------------
INSTALL_TITLE = "Install"
INSTALL_INTRO = (
    "Paste one of these into your site or backend to start sending events to this mbuzz ({host}). "
    "Browsers use a publishable key; servers use a secret key."
)
INSTALL_KEY_TITLE = "Publishable key"
INSTALL_KEY_USED = "The browser snippets use “{name}” ({environment}):"
INSTALL_ORIGINS = "Accepted only from pages on:"
INSTALL_OTHER_KEY = "Use another publishable key"
INSTALL_SWITCH = "Use this key"
INSTALL_NO_KEY = (
    "There is no active publishable key yet, so the snippets show a placeholder. Create one for "
    "your site's origin, then come back here."
)
INSTALL_CREATE_KEY = "Create a publishable key"
INSTALL_COPY = "Copy the {what} snippet"
INSTALL_MBUZZ_JS = "mbuzz.js"
INSTALL_MBUZZ_JS_INTRO = (
    "The first-party tracker, served by this mbuzz: put it in the <head> of every page. It "
    "records page views (single-page-app route changes too) with UTMs and click ids, and "
    "gives you mbuzz.track(), mbuzz.identify() and mbuzz.conversion()."
)
INSTALL_ANALYTICS_JS = "analytics.js (Segment)"
INSTALL_ANALYTICS_JS_INTRO = (
    "Already using Segment's analytics.js 2.0? Load @segment/analytics-next from npm "
    "with cdnURL pointed at mbuzz: it reads its settings here and sends here, and your "
    "analytics.page/track/identify calls work unchanged."
)
INSTALL_PYTHON = "Python, on your server"
INSTALL_PYTHON_INTRO = (
    "The server-side SDK batches and retries in the background. It needs a secret key: use the "
    "one you copied when you created it (secret keys are shown only once) and keep it out of "
    "pages and repositories."
)
INSTALL_MORE = "Events, conversions, identity and every option are explained in the"
INSTALL_DOCS = "guides."

# --- attribution reports ---------------------------------------------------------------------------------------
REPORT_TITLE = "Attribution"
REPORT_FX_GAPS = (
    "Some revenue or spend could not be converted into the reporting currency: no exchange rate for its day. "
    "It is left out of these numbers (never counted at 1.0) until the rates are loaded "
    "(`mbuzz fx import` or POST /api/v1/fx_rates) and the pipeline runs again."
)
REPORT_FX_GAP = "{currency} → {reporting} on {day}: {conversions} conversions, {spend_rows} spend rows"
REPORT_MODEL = "Model"
REPORT_ENV = "Environment"
REPORT_APPLY = "Show report"
REPORT_EMPTY = (
    "No attribution results yet for {environment}. Send events and conversions, then run the "
    "pipeline (`mbuzz pipeline run`) to fill the reports."
)
REPORT_NO_ROWS = "No credited conversions for {model} in this range. Try a longer range or another model."
REPORT_CHANNELS = "Channels under {model}"
REPORT_CHART = "Credited conversions per channel under {model}"
REPORT_COMPARE = "Models side by side"
REPORT_COMPARE_INTRO = "Credited conversions per channel under every model with results in this range."
REPORT_COMPARE_CHART = "Credited conversions per channel and model"
REPORT_SKIPPED = "{model} could not run on this account's data in the latest run: {reason}"
REPORT_COMPARE_LINK = "Where do the models disagree, and why?"
COMPARE_TITLE = "Where the models disagree"
COMPARE_INTRO = (
    "Each model's share of its credited conversions per channel over the range, the spread across "
    "models and the models at each end. The reasons come from first- vs last-touch credit: a channel "
    "that mostly closes journeys is favoured by last-touch models, one that opens them by first-touch."
)
COMPARE_NOTES = "The largest disagreements"
COMPARE_NO_NOTES = "The models agree within 2 share points on every channel in this range."
COMPARE_CHART = "Share of credited conversions per channel and model"
COMPARE_SKIPPED = "Models that could not run in the latest data-driven run"
COL_SPREAD = "Spread"
COL_RATIO = "Max / min"
COL_STD = "Std"
COL_HIGH = "Highest"
COL_LOW = "Lowest"
REPORT_TREND = "Trend under {model}"
REPORT_TREND_INTRO = "Credited conversions per channel per {bucket}, from the daily aggregates."
REPORT_TREND_CHART = "Credited conversions per channel per {bucket} under {model}"
REPORT_TREND_REVENUE_CHART = "Credited revenue per channel per {bucket} under {model}"
REPORT_TREND_BUCKET = "Per"
REPORT_DRILL = "Campaigns in {channel} under {model}"
REPORT_DRILL_EMPTY = "No campaigns credited in {channel} for this model and range."
REPORT_DRILL_BACK = "Back to all channels"
REPORT_REMOVAL = "Markov removal effects"
REPORT_REMOVAL_INTRO = (
    "The share of conversions that would be lost if the channel were removed from every "
    "journey, and the conversions the Markov chain gives it (latest Markov run, all dates)."
)
REPORT_REMOVAL_EMPTY = "No Markov run yet: run the pipeline with data-driven models (`mbuzz pipeline run`)."
REPORT_UNKNOWN_MODEL = "There are no results for model “{model}”; showing {fallback}."
COL_CHANNEL = "Channel"
COL_CONVERSIONS = "Credited conversions"
COL_INTERVAL = "95% interval"
COL_REVENUE = "Credited revenue"
COL_TOUCHES = "Touches"
COL_SHARE = "Share"
COL_SPEND = "Spend"
COL_ROAS = "ROAS"
REPORT_SPEND_ONLY = "Spend with no credited conversion under {model}: {channels}."
COL_SOURCE = "Source"
COL_MEDIUM = "Medium"
COL_CAMPAIGN = "Campaign"
COL_REMOVAL = "Removal effect"
COL_TOTAL = "Conversions (Markov)"
TOTAL = "Total"
ENV_LIVE = "live"
ENV_TEST = "test"

# --- models ----------------------------------------------------------------------------------------------------
MODELS_TITLE = "Attribution models"
MODELS_INTRO = (
    "Presets and data-driven models run for every account. Custom models are written in the "
    "attribution DSL; active ones run in every pipeline run."
)
MODELS_PRESETS = "Presets (read-only)"
MODELS_DATA_DRIVEN = "Data-driven"
MODELS_DATA_DRIVEN_HELP = {
    "markov": "Absorbing Markov chain; credit by removal effect.",
    "shapley": "Shapley values over channel coalitions.",
    "ordered_shapley": "Shapley values over the order of first exposures (search then email is not email then search).",
    "algorithmic": "Logistic marginal-effect model.",
}
MODELS_CUSTOM = "Custom models"
MODELS_CUSTOM_EMPTY = "No custom models yet. Start from a preset: write one in the editor."
MODELS_NEW = "New model"
MODELS_VIEW_SOURCE = "View source"
MODELS_EDIT = "Edit"
MODELS_ACTIVE = "active"
MODELS_INACTIVE = "inactive"
MODELS_ACTIVATE = "Activate"
MODELS_DEACTIVATE = "Deactivate"
MODELS_ACTIVATED = "“{name}” is active: the next pipeline run computes it."
MODELS_DEACTIVATED = "“{name}” is inactive: pipeline runs skip it."
MODELS_SAVED = "“{name}” is saved."
MODELS_PRESET_TITLE = "Preset: {name}"
MODELS_PRESET_COPY = "Copy into a new model"
EDITOR_TITLE_NEW = "New model"
EDITOR_TITLE_EDIT = "Edit “{name}”"
EDITOR_SOURCE = "DSL source"
EDITOR_SOURCE_HELP = 'One `model "name" … end` block. See docs/attribution.md for the language.'
EDITOR_CHECK = "Check and preview"
EDITOR_SAVE = "Save"
EDITOR_VALID = "No errors."
EDITOR_ERRORS = "{count} problem(s)"
EDITOR_DIAGNOSTIC = "Line {line}, column {column}: {message}"
EDITOR_ONE_MODEL = "Write exactly one model per program (this one has {count})."
EDITOR_EMPTY = "Write a model first."
EDITOR_TOO_LONG = "The program is over {max} characters."
EDITOR_NAME_TAKEN = 'This account already has a model called “{name}”: rename it in the `model "…"` line.'
EDITOR_NAME_RESERVED = "“{name}” is the name of a preset or data-driven model: choose another name."
PREVIEW_TITLE = "Preview"
PREVIEW_SAMPLE = "Credits on a sample journey"
PREVIEW_SAMPLE_HELP = (
    "{touches} touches over {days:g} days, oldest first, converting with {revenue} of revenue; "
    "the email touch reached the milestone “mql”."
)
PREVIEW_RECENT = "On your last 30 days"
PREVIEW_RECENT_HELP = "{conversions} conversions from the warehouse's journeys, credited by this model."
PREVIEW_RECENT_NONE = (
    "No converting journeys in the warehouse in the last 30 days (build it with `mbuzz warehouse build`)."
)
PREVIEW_UNAVAILABLE = "Fix the errors to see a preview."
PREVIEW_FAILED = "The preview could not run: {reason}"
COL_TOUCH = "Touch"
COL_DAYS_BEFORE = "Days before conversion"
COL_CREDIT = "Credit"
COL_MILESTONE = "Milestone"

# --- the docs site (/docs/, ingest_api/guides.py) --------------------------------------------------------------
DOCS_PRODUCT = "mbuzz docs"
DOCS_TOP_NAV = "Docs"
DOCS_SIDEBAR = "Guides and reference"
DOCS_GUIDES = "Guides"
DOCS_EXAMPLES = "Examples"
DOCS_REFERENCE = "API reference"
DOCS_REFERENCE_HTML = "Every endpoint (OpenAPI)"
DOCS_REFERENCE_INTRO = (
    "Every endpoint, its parameters and answers, from the OpenAPI document the server validates against:"
)
DOCS_DASHBOARD = "Dashboard"
DOCS_SIGN_IN = "Sign in to see your own host and keys in the examples."
DOCS_SIGNED_IN = "Signed in · {account}"
DOCS_PLACEHOLDERS = (
    "Examples show placeholders: http://127.0.0.1:8000 for your mbuzz host, acct_… for your account, "
    "pk_live_… for a publishable key and key_… for a secret key's id."
)
DOCS_YOUR_VALUES = "Examples on these pages use the values of {account}:"
DOCS_VALUE_HOST = "Host"
DOCS_VALUE_ACCOUNT = "Account"
DOCS_VALUE_PUBLISHABLE = "Publishable key ({environment})"
DOCS_VALUE_SECRET = "Secret key id"
DOCS_NO_SECRETS = (
    "Secret keys (sk_…) are never shown here: use the one you copied when you created it, or create another."
)
DOCS_NO_PUBLISHABLE = "There is no active publishable key yet: create one on the"
DOCS_INDEX_TITLE = "mbuzz API guides"
DOCS_INDEX_INTRO = (
    "How to send events, conversions and spend to mbuzz, from a website, a backend or Segment's "
    "libraries, and read attribution back. Start with getting started."
)
DOCS_EXAMPLE_INTRO = "A runnable example; the test suite runs it against a live server."
DOCS_NOT_FOUND = "There is no guide here. Every guide is listed on the"
DOCS_FOOTER = "mbuzz: self-hosted multi-touch attribution · these guides are docs/api/*.md of the repository"

# --- errors ----------------------------------------------------------------------------------------------------
ERROR_TITLES = {
    400: "Bad request",
    403: "Not allowed",
    404: "Not found",
    405: "Method not allowed",
    429: "Too many attempts",
    500: "Something went wrong",
    503: "Database unavailable",
}
ERROR_MESSAGES = {
    400: "The request could not be understood. Reload the page and try again.",
    403: "You cannot do that with this account.",
    404: "There is nothing here, or it belongs to another account.",
    405: "This page cannot be used that way.",
    429: "Too many sign-in attempts from here. Wait a minute and try again.",
    500: "An unexpected error happened; it has been logged.",
    503: "The database cannot be reached right now. Nothing was changed; try again in a moment.",
}
CSRF_ERROR = "Your form expired or did not come from this site. Reload the page and submit it again."
ERROR_HOME = "Back to the overview"

REPORT_INTERVAL_NOTE = (
    "Error bars and the 95% interval column: where the credited conversions would land if the "
    "same traffic were drawn again (bootstrap over journeys; data-driven models refit on each draw)."
)
REPORT_INTERVAL_MISSING = "No 95% intervals for these days: {reason}"
REPORT_NO_INTERVAL = "no interval was computed for these days"

# -- identity ---------------------------------------------------------------------------------------
NAV_IDENTITY = "Identity"
IDENTITY_TITLE = "Identity"
IDENTITY_INTRO = (
    "How well mbuzz knows who converted: conversions matched to at least one session (their journey "
    "has a touch), and sessions stitched to a known user (an identify, an alias or a conversion named "
    "the user). Offline conversions matched by hashed e-mail count once an identify carried the hash."
)
IDENTITY_EMPTY = (
    "No identity numbers yet for {environment}. Send events (with identify calls) and conversions, then "
    "run the pipeline: mbuzz pipeline run."
)
IDENTITY_MATCHED = "matched"
IDENTITY_UNMATCHED = "unmatched"
IDENTITY_STITCHED = "stitched"
IDENTITY_ANONYMOUS = "anonymous"
IDENTITY_CONVERSION_CHART = "Conversions per day, matched to a session or not"
IDENTITY_SESSION_CHART = "Sessions per day, stitched to a known user or anonymous"
IDENTITY_MATCH_RATE = "Match rate"
IDENTITY_STITCH_RATE = "Stitch rate"
IDENTITY_SUMMARY = (
    "{matched:,} of {conversions:,} conversions matched a session ({match_rate}); {stitched:,} of "
    "{sessions:,} sessions stitched to a known user ({stitch_rate})."
)
IDENTITY_CHECK_NOTE = (
    "The pipeline's check identity_match_rate warns when a day's match rate falls a quarter below "
    "its 14-day median (days with at least 20 conversions)."
)
COL_MATCHED = "Matched"
COL_SESSIONS = "Sessions"
COL_STITCHED = "Stitched"
COL_ALL_CONVERSIONS = "Conversions"

# --- database access (BI tools: mbuzz.bi, as `mbuzz bi`) -------------------------------------------------------
BI_TITLE = "Database access"
BI_INTRO = (
    "A read-only PostgreSQL login for Metabase, Superset, Grafana or any SQL client. It sees this "
    "account's rows and nothing else: the views of schema bi (attribution by day, conversions, "
    "journeys, ROAS), no raw events, keys or users, and it cannot write. The same logins as "
    "`mbuzz bi grant`, `mbuzz bi list` and `mbuzz bi revoke`."
)
BI_GUIDE = "Connecting a BI tool: docs/analysts.md, “BI tools”."
BI_GRANT_TITLE = "Grant access"
BI_ROLE = "Login name"
BI_ROLE_HELP = (
    "Optional; default {default}. Letters, digits and _, up to 63 characters. Logins are server-wide, "
    "so a name used by anything else on the database server is refused."
)
BI_GRANT = "Create login"
BI_CREATED = "The login {role} can connect now"
BI_CREATED_ONCE = (
    "Copy the connection URL now. Its password will not be shown again: mbuzz and PostgreSQL keep only "
    "a verifier of it. If you lose it, revoke the login and grant another."
)
BI_CREATED_NO_VIEWS = (
    "The warehouse has not been built yet: the views of schema bi appear after the next pipeline run "
    "(`mbuzz warehouse build`)."
)
BI_URL = "Connection URL"
BI_SQLALCHEMY_URL = "SQLAlchemy URL (Superset)"
BI_LIST_TITLE = "Logins"
BI_EMPTY = "No database logins yet. Grant access above to connect a BI tool."
BI_COL_ROLE = "Login"
BI_COL_SESSIONS = "Open sessions"
BI_COL_LAST_ACTIVE = "Last active (UTC)"
BI_LAST_ACTIVE_UNKNOWN = "not known"
BI_LAST_ACTIVE_HELP = "PostgreSQL keeps no login history: the last activity is known only while a session is open."
BI_MISSING = "dropped on the server"
BI_TAKEN_HERE = "This account has a login named {role} already. Revoke it first, or choose another name."
BI_TAKEN = "A database role named {role} exists already on this server. Choose another name."
BI_NO_PRIVILEGE = (
    "This server's mbuzz cannot create or drop database logins: its PostgreSQL user ({user}) has no "
    "CREATEROLE privilege. Ask whoever owns the database to run `mbuzz bi grant --account {account}` "
    "(or `mbuzz bi revoke ROLE`) as a superuser or a role with CREATEROLE, or to run "
    "`ALTER ROLE {user} CREATEROLE`. Nothing was changed."
)
BI_REVOKE = "Revoke"
BI_REVOKE_TITLE = "Revoke this login?"
BI_REVOKE_CONFIRM = (
    "Revoke {role}? Its open sessions are ended and BI tools using it can no longer connect. This cannot be undone."
)
BI_REVOKE_YES = "Yes, revoke it"
BI_REVOKE_NO = "Cancel"
BI_REVOKED_FLASH = "Login {role} is revoked ({sessions} open sessions ended)."
BI_UNKNOWN = "This account has no database login named {role} (revoked already?). Nothing was changed."
