"""The audit log (auditors): whether the hash chain over the whole log is intact, then the entries, newest first,
50 a page, filtered by case, actor, action and time (``facesearch.audit.query``); each entry's details open
as pretty JSON. Bad filter input is one line on the page (status 400), never an error trace."""

# No ``from __future__ import annotations``: FastAPI reads these signatures at run time.
import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from facesearch.accounts.service import Principal
from facesearch.api.console.pages import render
from facesearch.api.console.paging import page_links
from facesearch.api.deps import Ctx, may
from facesearch.audit.query import TEXT_MAX, AuditFilter, AuditQueryError, clean_text, distinct_actions, search
from facesearch.audit.summary import summarise
from facesearch.audit.verification import verify as verify_log
from facesearch.cases.service import parse_case_time
from facesearch.errors import BadInputError, FacesearchError
from facesearch.paging import page_number
from facesearch.text import visible

router = APIRouter()
Auditor = Annotated[Principal, Depends(may("audit.read"))]
FIELDS = ("case", "actor", "action", "from", "until")


def _moment(field: str, text: str, *, end_of_day: bool) -> datetime | None:
    """A time typed into the filter, read by the one date rule (a bare date: the whole day)."""
    cleaned = clean_text(field, text)
    if cleaned is None:
        return None
    try:
        return parse_case_time(cleaned, end_of_day=end_of_day)
    except FacesearchError as exc:
        raise AuditQueryError(field, exc.reason) from None


def _pretty(details: Any) -> str:
    """An entry's details as indented JSON. JSON already writes a newline or tab inside a value as an escape, so
    the only line breaks are the layout's; the other control characters (U+2028, a bidi override) are escaped."""
    text = json.dumps(details, indent=2, ensure_ascii=False, sort_keys=True)
    return "\n".join(visible(line) for line in text.split("\n"))


def _group_options(actions: tuple[str, ...]) -> list[str]:
    """``case.*``, ``account.*``, ...: one choice per family of actions that has more than one."""
    families: dict[str, int] = {}
    for action in actions:
        if "." in action:
            family = action.split(".", 1)[0] + ".*"
            families[family] = families.get(family, 0) + 1
    return sorted(f for f, n in families.items() if n > 1)


@router.get("/audit", response_class=HTMLResponse)
def audit_page(request: Request, ctx: Ctx, who: Auditor, case: str = "", actor: str = "", action: str = "",
               since: Annotated[str, Query(alias="from")] = "", until: str = "", page: str = "") -> HTMLResponse:
    typed = dict(zip(FIELDS, (case, actor, action, since, until), strict=True))
    error, found = "", None
    with ctx.sessions() as s:
        chain = verify_log(s)
        try:
            wanted = AuditFilter.of(case=case, actor=actor, action=action,
                                    since=_moment("from", since, end_of_day=False),
                                    until=_moment("until", until, end_of_day=True))
            found = search(s, wanted, page_number(page))
        except BadInputError as exc:  # anything else (the database away) is the app's to answer
            error = visible(str(exc))[:300]
        actions = found.actions if found else distinct_actions(s)
    shown = {k: v.strip()[:TEXT_MAX] for k, v in typed.items()}  # what the form shows again, never more than it takes
    if found is not None:
        shown["case"] = found.filter.case or ""  # c07 -> C7
    links = page_links("/console/audit", found.page, found.pages, **shown) if found else {}
    return render(request, "audit.html", who, status_code=400 if error else 200, title="Audit", chain=chain,
                  found=found, error=error, shown=shown, links=links, actions=actions, groups=_group_options(actions),
                  summary=summarise, pretty=_pretty, plain=visible, text_max=TEXT_MAX)

