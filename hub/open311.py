"""Open311 GeoReport v2 on the hub: services from the category vocabulary, requests as cases.

* **Services** are the hub's categories (``service_code`` = category code, ``group`` = its
  family); none has extra attributes, so ``metadata`` is always false.
* **Posting a request** needs an ``api_key`` issued by ``hub open311 add-client NAME``; the
  hub keeps only the key's SHA-256. The request becomes a ``complaint.submit`` envelope
  signed on behalf of the client's Open311 agency (``HUB_OPEN311_AGENCY``, default
  ``open311``) and goes through :func:`hub.exchange.intake.submit` like any other message:
  receipt, case, routing, delivery, transparency log. The intake requires the issuer to own
  the signing key, so that agency is a real participant: a hub-operated agency (kind
  ``hub``, role ``submit`` only, never routed to) enrolled at first use with a key pair the
  hub keeps in ``HUB_KEY_DIR/<agency>-agency.jwk`` (0600). Contact fields (name, phone,
  e-mail) become ``reporter.contact``, which the intake seals.
* **Reading requests** is public and shows no personal data: no contact, and free text
  (description, address, status notes) scrubbed by :func:`hub.privacy.scrub`. The
  ``service_request_id`` is the complaint's tracking code. Statuses map to ``open`` and
  ``closed`` (resolved, closed, rejected, merged).
* ``jurisdiction_id``, when given, is a DOPA area code (2, 4 or 6 digits) or ``TH``.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub import ids, schema, vocab
from hub.config import Settings
from hub.errors import (
    FieldError,
    Forbidden,
    HubError,
    NotFound,
    RequestInvalid,
    SchemaInvalid,
    Unauthorized,
)
from hub.exchange import intake, registry
from hub.exchange.canonical import canonicalize
from hub.exchange.jws import ENVELOPE_TYP, sign
from hub.exchange.keys import (
    PrivateKey,
    generate_private_key,
    jwk_thumbprint,
    load_private_jwk,
    private_jwk,
    public_jwk,
    read_jwk,
    write_private_jwk,
)
from hub.models import Agency, Case, Complaint, Open311Client
from hub.privacy import scrub

if TYPE_CHECKING:
    from hub.services import Hub

Lang = Literal["th", "en"]
SYSTEM = "open311"
DEFAULT_AGENCY = "open311"
CLOSED = frozenset({"resolved", "closed", "rejected", "merged"})
LIMIT = 1000
WINDOW = timedelta(days=90)
BANGKOK = ZoneInfo("Asia/Bangkok")
_PHONE = re.compile(r"^\+?[0-9][0-9 -]{5,19}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# where a complaint-schema error points back to in the Open311 form
_FORM_FIELD = {
    "/category": "/body/service_code",
    "/description": "/body/description",
    "/location/lat": "/body/lat",
    "/location/lon": "/body/long",
    "/location/address": "/body/address_string",
    "/media/0/url": "/body/media_url",
    "/reporter/contact/name": "/body/first_name",
    "/reporter/contact/phone": "/body/phone",
    "/reporter/contact/email": "/body/email",
}


# --------------------------------------------------------------------------- configuration


def agency_code(settings: Settings) -> str:
    """The agency new clients post as: ``HUB_OPEN311_AGENCY``, default ``open311``."""
    return settings.open311_agency or DEFAULT_AGENCY


def pick_lang(lang: str | None, accept_language: str | None) -> Lang:
    """``lang`` if given, else the first of th/en in ``Accept-Language`` (by q), else th."""
    if lang in ("th", "en"):
        return "en" if lang == "en" else "th"
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        ranked.append((-q, i, tag.strip().lower()[:2]))
    for _q, _i, tag in sorted(ranked):
        if tag in ("th", "en"):
            return "en" if tag == "en" else "th"
    return "th"


# --------------------------------------------------------------------------- clients


def hash_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode("utf-8")).hexdigest()


def issue_client(
    session: Session, *, name: str, agency: str, now: datetime
) -> tuple[Open311Client, str]:
    """A new client and its api_key; the key is returned once and only its hash is stored."""
    if not name.strip():
        raise RequestInvalid("a client needs a name")
    api_key = secrets.token_urlsafe(32)
    client = Open311Client(
        name=name.strip(), key_sha256=hash_key(api_key), agency=agency, created_at=now, active=True
    )
    session.add(client)
    session.flush()
    return client, api_key


def authenticate(session: Session, api_key: str | None) -> Open311Client:
    """The active client holding ``api_key``; raises Forbidden (403, as the spec shows)."""
    if not api_key:
        raise Forbidden("api_key required -- can't proceed with create_request")
    client = session.scalars(
        select(Open311Client).where(Open311Client.key_sha256 == hash_key(api_key))
    ).first()
    if client is None or not client.active:
        raise Forbidden("Invalid api_key received -- can't proceed with create_request")
    return client


# --------------------------------------------------------------------------- the agency


@dataclass(frozen=True, slots=True)
class AgencyKey:
    """The private key the hub signs with on behalf of a hub-operated Open311 agency."""

    agency: str
    kid: str
    key: PrivateKey

    @property
    def key_id(self) -> str:
        return self.kid.split("/", 1)[1]


def key_path(key_dir: Path, agency: str) -> Path:
    return key_dir / f"{agency}-agency.jwk"


def agency_key(key_dir: Path, agency: str) -> AgencyKey:
    """Load the agency's key from ``key_dir``, creating it (0600) on first use.

    Two processes starting together keep the same key: the file is linked into place only
    if absent, and the loser of that race loads the winner's key.
    """
    path = key_path(key_dir, agency)
    if not path.exists():
        key = generate_private_key("EdDSA")
        kid = f"{agency}/{jwk_thumbprint(public_jwk(key))[:16]}"
        key_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.new")
        write_private_jwk(tmp, private_jwk(key, kid=kid))
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    jwk = read_jwk(path)
    return AgencyKey(agency, str(jwk["kid"]), load_private_jwk(jwk))


def ensure_agency(session: Session, key: AgencyKey, *, now: datetime) -> None:
    """Enrol the hub-operated agency with ``key`` if needed; refuse a code a participant owns."""
    agency = session.get(Agency, key.agency)
    material = registry.KeyMaterial(jwk=public_jwk(key.key), key_id=key.key_id)
    if agency is None:
        registry.enrol(
            session,
            code=key.agency,
            kind="hub",
            name_th="Open311 ผ่านศูนย์กลาง",
            name_en="Open311 via the hub",
            roles=("submit",),
            key=material,
            now=now,
        )
        return
    if agency.kind != "hub":
        raise HubError(
            f"agency {key.agency!r} is a participant, not hub-operated: "
            "set HUB_OPEN311_AGENCY to a free code"
        )
    if key.kid not in {k.kid for k in registry.agency_keys(session, key.agency)}:
        registry.add_key(session, key.agency, material, now=now)


def prepare_agency(hub: Hub, code: str) -> AgencyKey:
    """The agency's key, enrolled in its own transaction (a concurrent twin is fine)."""
    key = agency_key(hub.settings.key_dir, code)
    for attempt in (1, 2):
        try:
            with hub.transaction() as session:
                ensure_agency(session, key, now=hub.now())
            break
        except IntegrityError:
            if attempt == 2:
                raise
    return key


# --------------------------------------------------------------------------- services


def _service(c: vocab.Category, lang: Lang) -> dict[str, Any]:
    name, other = (c.en, c.th) if lang == "en" else (c.th, c.en)
    return {
        "service_code": c.code,
        "service_name": name,
        "description": other,
        "metadata": False,
        "type": "realtime",
        "keywords": ", ".join(dict.fromkeys((c.code, c.th, c.en, *c.traffy))),
        "group": c.family,
    }


def services(lang: Lang = "th") -> list[dict[str, Any]]:
    """One Open311 service per hub category, in vocabulary order."""
    return [_service(c, lang) for c in vocab.categories().values()]


def service_definition(code: str) -> dict[str, Any]:
    """The service's extra attributes: none for any hub category. Raises NotFound."""
    if code not in vocab.categories():
        raise NotFound(f"no service {code!r}")
    return {"service_code": code, "attributes": []}


def jurisdiction(code: str | None, where: str = "/body") -> dict[str, str]:
    """Location codes for a ``jurisdiction_id`` (a DOPA code, or TH for the whole country)."""
    if code is None or code == "TH":
        return {}
    if vocab.area(code) is None:
        raise RequestInvalid(
            f"unknown jurisdiction_id {code!r}",
            errors=[FieldError(f"{where}/jurisdiction_id", "not a DOPA area code or TH")],
        )
    names = ("province_code", "amphoe_code", "tambon_code")
    return {name: code[:n] for name, n in zip(names, (2, 4, 6), strict=True) if len(code) >= n}


# --------------------------------------------------------------------------- posting


def to_complaint(
    form: Mapping[str, Any], *, agency: str, client: Open311Client, ref: str, now: datetime
) -> dict[str, Any]:
    """The shared-schema complaint for one Open311 POST. Raises RequestInvalid (400)."""
    errors: list[FieldError] = []
    code = form.get("service_code")
    if code not in vocab.categories():
        errors.append(FieldError("/body/service_code", f"unknown service_code {code!r}"))
    lat, lon = form.get("lat"), form.get("long")
    if (lat is None) != (lon is None):
        errors.append(
            FieldError("/body/lat" if lat is None else "/body/long", "lat and long come together")
        )
    address, address_id = form.get("address_string"), form.get("address_id")
    if lat is None and lon is None and not address and not address_id:
        errors.append(FieldError("/body/lat", "a location is required: lat/long or address_string"))
    contact = _contact(form, errors)
    location: dict[str, Any] = {**jurisdiction(form.get("jurisdiction_id"))}
    if lat is not None and lon is not None:
        location.update(lat=float(lat), lon=float(lon))
    if address:
        location["address"] = str(address)
    if errors:
        raise RequestInvalid(f"{len(errors)} invalid field(s)", errors=errors)
    category = vocab.categories()[str(code)]
    body: dict[str, Any] = {
        "id": f"{SYSTEM}:{ref}",
        "origin": {"agency": agency, "system": SYSTEM, "ref": ref},
        "channel": SYSTEM,
        "category": category.code,
        "description": str(form.get("description") or category.th),
        "reported_at": now.isoformat().replace("+00:00", "Z"),
        "reporter": {"anonymous": not contact, **({"contact": contact} if contact else {})},
        "extensions": {SYSTEM: _extension(form, client)},
    }
    if location:
        body["location"] = location
    if form.get("media_url"):
        body["media"] = [{"url": str(form["media_url"]), "phase": "before"}]
    return body


def _contact(form: Mapping[str, Any], errors: list[FieldError]) -> dict[str, str]:
    name = " ".join(str(form[k]).strip() for k in ("first_name", "last_name") if form.get(k))
    contact = {"name": name} if name else {}
    if form.get("phone"):
        if _PHONE.match(str(form["phone"])):
            contact["phone"] = str(form["phone"])
        else:
            errors.append(FieldError("/body/phone", "not a phone number"))
    if form.get("email"):
        if _EMAIL.match(str(form["email"])):
            contact["email"] = str(form["email"])
        else:
            errors.append(FieldError("/body/email", "not an e-mail address"))
    return contact


def _extension(form: Mapping[str, Any], client: Open311Client) -> dict[str, Any]:
    """What the hub keeps about the Open311 side (no device or account ids: they are personal)."""
    kept = {k: str(form[k]) for k in ("address_id", "jurisdiction_id") if form.get(k)}
    return {"client": client.name, "client_id": client.id, **kept}


def check_complaint(body: dict[str, Any]) -> None:
    """The shared schema, with each error pointed back at the Open311 form field."""
    errors = schema.validate("complaint", body)
    if errors:
        raise RequestInvalid(
            f"{len(errors)} invalid field(s)",
            errors=[FieldError(_FORM_FIELD.get(e.pointer, e.pointer), e.message) for e in errors],
        )


def sign_complaint(key: AgencyKey, body: dict[str, Any], *, audience: str, now: datetime) -> bytes:
    payload = {
        "type": "complaint.submit",
        "id": f"{key.agency}-{uuid.uuid4().hex}",
        "issued_at": now.isoformat().replace("+00:00", "Z"),
        "issuer": key.agency,
        "audience": audience,
        "body": body,
    }
    return sign(canonicalize(payload), key.key, kid=key.kid, typ=ENVELOPE_TYP).encode("ascii")


def submit_request(hub: Hub, form: Mapping[str, Any], *, lang: Lang = "th") -> dict[str, Any]:
    """POST requests: authenticate, build, sign as the client's agency, submit through intake.

    Returns the spec's answer (one item). Raises Forbidden (bad key), RequestInvalid (bad
    fields); anything else the intake refuses is the hub's own fault and a 500.
    """
    now = hub.now()
    with hub.transaction() as session:
        client = authenticate(session, form.get("api_key"))
        ref = ids.ulid().lower()
        body = to_complaint(form, agency=client.agency, client=client, ref=ref, now=now)
    check_complaint(body)
    key = prepare_agency(hub, body["origin"]["agency"])
    raw = sign_complaint(key, body, audience=hub.settings.audience, now=hub.now())
    try:
        intake.submit(hub, raw)
    except SchemaInvalid as exc:
        raise RequestInvalid(exc.detail, errors=exc.errors) from exc
    except (Unauthorized, Forbidden) as exc:
        raise HubError(f"the hub could not sign as {key.agency!r}: {exc.detail}") from exc
    with hub.transaction() as session:
        complaint = session.get(Complaint, body["id"])
        assert complaint is not None
        return {
            "service_request_id": complaint.tracking_code,
            "service_notice": _notice(session, complaint, lang),
            "account_id": None,
        }


def _notice(session: Session, complaint: Complaint, lang: Lang) -> str:
    case = session.get(Case, complaint.case_id) if complaint.case_id else None
    owner = session.get(Agency, case.owner) if case and case.owner else None
    code = complaint.tracking_code
    if lang == "en":
        to = f", passed to {owner.name_en or owner.name_th}" if owner else ""
        return f"Received by the national complaint hub{to}. Track it with {code}."
    to = f" ส่งให้ {owner.name_th}" if owner else ""
    return f"ศูนย์กลางรับเรื่องแล้ว{to} ติดตามเรื่องด้วยรหัส {code}"


# --------------------------------------------------------------------------- reading


def _iso(when: datetime | None) -> str | None:
    return when.astimezone(BANGKOK).isoformat() if when else None


def open_or_closed(status: str) -> str:
    return "closed" if status in CLOSED else "open"


def _status_notes(case: Case, lang: Lang) -> str | None:
    outcome = vocab.outcomes().get(case.outcome) if case.outcome else None
    status = vocab.statuses().get(case.status)
    label = outcome or status
    head = (label.en if lang == "en" else label.th) if label else case.status
    summary = scrub(case.summary)
    return f"{head}: {summary}" if summary else head


def request_view(
    complaint: Complaint, case: Case, owner: Agency | None, lang: Lang
) -> dict[str, Any]:
    """One request as the spec shows it, with no personal data."""
    category = vocab.categories().get(complaint.category)
    location = complaint.record.get("location") or {}
    media = complaint.record.get("media") or []
    return {
        "service_request_id": complaint.tracking_code,
        "status": open_or_closed(case.status),
        "status_notes": _status_notes(case, lang),
        "service_name": (category.en if lang == "en" else category.th) if category else None,
        "service_code": complaint.category,
        "description": scrub(complaint.description) or None,
        "agency_responsible": ((owner.name_en or owner.name_th) if lang == "en" else owner.name_th)
        if owner
        else None,
        "service_notice": None,
        "requested_datetime": _iso(complaint.reported_at),
        "updated_datetime": _iso(case.updated_at),
        "expected_datetime": _iso(case.resolve_due),
        "address": scrub(location.get("address")),
        "lat": complaint.lat,
        "long": complaint.lon,
        "media_url": media[0]["url"] if media else None,
    }


def _rows(session: Session, stmt: Any, lang: Lang) -> list[dict[str, Any]]:
    out = []
    for complaint, case in session.execute(stmt).all():
        owner = session.get(Agency, case.owner) if case.owner else None
        out.append(request_view(complaint, case, owner, lang))
    return out


def get_request(session: Session, request_id: str, *, lang: Lang = "th") -> list[dict[str, Any]]:
    """GET requests/{id}: a list of one, as the spec answers. Raises NotFound."""
    stmt = (
        select(Complaint, Case)
        .join(Case, Case.id == Complaint.case_id)
        .where(Complaint.tracking_code == request_id)
    )
    found = _rows(session, stmt, lang)
    if not found:
        raise NotFound(f"no service request {request_id!r}")
    return found


def _when(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise RequestInvalid(
            f"{name} is not a date-time", errors=[FieldError(f"/query/{name}", "not ISO 8601")]
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=BANGKOK)


def _split(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def find_requests(
    session: Session,
    *,
    now: datetime,
    service_request_id: str | None = None,
    service_code: str | None = None,
    start_date: str | None = None,
    end_date: str | None = None,
    status: str | None = None,
    jurisdiction_id: str | None = None,
    lang: Lang = "th",
) -> list[dict[str, Any]]:
    """GET requests: newest first, at most 1000, the last 90 days unless dates say otherwise.

    ``service_request_id`` (comma-separated) overrides every other filter, as the spec says.
    """
    stmt = select(Complaint, Case).join(Case, Case.id == Complaint.case_id)
    stmt = stmt.order_by(Complaint.reported_at.desc(), Complaint.id).limit(LIMIT)
    if service_request_id:  # a tracking code is already public (GET /v1/track/{code})
        return _rows(
            session, stmt.where(Complaint.tracking_code.in_(_split(service_request_id))), lang
        )
    # the public feed lists what came in through Open311 only: other channels' citizens
    # never agreed to a public listing, and free text may still name them
    stmt = stmt.where(Complaint.channel == "open311")
    end = _when(end_date, "end_date") or now
    start = _when(start_date, "start_date") or end - WINDOW
    if start > end:
        raise RequestInvalid(
            "start_date is after end_date",
            errors=[FieldError("/query/start_date", "after end_date")],
        )
    stmt = stmt.where(Complaint.reported_at >= start, Complaint.reported_at <= end)
    if service_code:
        stmt = stmt.where(Complaint.category.in_(_split(service_code)))
    wanted = set(_split(status))
    if wanted - {"open", "closed"}:
        raise RequestInvalid(
            "status is open or closed", errors=[FieldError("/query/status", "unknown")]
        )
    if wanted == {"open"}:
        stmt = stmt.where(Case.status.not_in(CLOSED))
    elif wanted == {"closed"}:
        stmt = stmt.where(Case.status.in_(CLOSED))
    for column, code in jurisdiction(jurisdiction_id, "/query").items():
        stmt = stmt.where(getattr(Complaint, column) == code)
    return _rows(session, stmt, lang)


# --------------------------------------------------------------------------- CLI


def add_client_cli(settings: Settings, name: str) -> int:
    """``hub open311 add-client NAME``: prints the new api_key as the last word (shown once)."""
    from hub.services import build_hub

    hub = build_hub(settings)
    try:
        code = agency_code(settings)
        prepare_agency(hub, code)
        with hub.transaction() as session:
            client, api_key = issue_client(session, name=name, agency=code, now=hub.now())
            client_id = client.id
    except HubError as exc:
        print(f"refused: {exc.detail}")
        return 1
    finally:
        hub.engine.dispose()
    print(f"open311 client {name!r} (id {client_id}) posts as agency {code!r}")
    print("its api_key is shown only this once; the hub keeps only a hash of it:")
    print(api_key)
    return 0


__all__: Sequence[str] = (
    "add_client_cli",
    "find_requests",
    "get_request",
    "service_definition",
    "services",
    "submit_request",
)
