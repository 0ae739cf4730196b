"""Flows that run: the steps (checked per kind), enrolment, the scheduler and each step kind.

Each person in a flow has a `FlowRun` (flow, profile, step, due_at, state). Activation enrols the
whole entry audience set-based: one INSERT … SELECT on the primary, or, with a replica caught up
with the account, the audience's ids read there and inserted in chunks. The beat task `flow_runs_task` calls
`flow_runs_due`, which claims due runs of active flows in chunks with a conditional UPDATE
(`claim`, `claimed_until`: a claim whose worker died expires after FLOW_CLAIM_SECONDS and is
taken again) and executes them: runs at the same step go through it together (set-based), then
on to the next step while it is due, committing after each step, so a redone step is one that
did not commit, and every step is safe to redo (a send by its key, tags and Do Not Contact by
being set operations).

A step kind is a `config` checker in STEP_CHECKS and an executor in EXECUTORS (see "Adding a
step kind" in docs/communications.md).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import uuid
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, connections, router, transaction
from django.db.models import F, Q
from django.utils import timezone

from audience import replicas
from audience.models import Account, Contact, Profile
from communications import backends, content, delivery, selectors, senders, whatsapp
from communications.models import (
    CHANNEL_CONTACT,
    Flow,
    FlowMessage,
    FlowPassage,
    FlowRun,
    FlowStatus,
    FlowStep,
    ItemKind,
    MessageStatus,
    RunState,
    StepKind,
)

logger = logging.getLogger(__name__)

CHUNK = 1000
FLOW_CLAIM_SECONDS = 300
MAX_HOPS = 50  # steps one run may take in one pass (a branch loop waits for the next pass)
UNITS = {"minutes": 60, "hours": 3600, "days": 86400}


# --- Steps: what each kind's config holds --------------------------------------------------------


def _invalid(field: str, message: str) -> ValidationError:
    """An error the step form shows next to `field`."""
    return ValidationError({field: [message]})


def _duration(config: dict, *, field: str = "amount") -> dict:
    try:
        amount = int(config.get(field, ""))
    except (TypeError, ValueError):
        raise _invalid(field, "Give the wait as a whole number.") from None
    unit = config.get("unit", "minutes")
    if unit not in UNITS:
        raise _invalid("unit", f"{unit!r} is not a unit: use minutes, hours or days.")
    if amount < 1:
        raise _invalid(field, "A wait lasts at least 1 " + unit.rstrip("s") + ".")
    return {"amount": amount, "unit": unit}


def _time(value: str) -> str:
    if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", str(value or "")):
        raise _invalid("time", f"{value!r} is not a time of day: write it as 09:30.")
    return value


def _check_send(flow: Flow, config: dict) -> dict:
    channel = config.get("channel", "")
    if channel not in CHANNEL_CONTACT:
        raise _invalid("channel", "Choose the channel to send on.")
    try:
        sender = senders.sender_for_broadcast(
            account=flow.account, channel=channel, address=config.get("sender", "")
        )
    except ValidationError as error:
        raise _invalid("sender", " ".join(error.messages)) from None
    text = str(config.get("text", ""))
    if not text.strip():
        raise _invalid("text", "Write the message.")
    cleaned = {
        "channel": channel,
        "sender": sender.address if sender else "",
        "sender_label": sender.label if sender else "",
        "text": text,
        "subject": str(config.get("subject", "")).strip() if channel == "EMAIL" else "",
        "html": str(config.get("html", "")) if channel == "EMAIL" else "",
    }
    if channel == "WHATSAPP":
        cleaned["wa_template"] = str(config.get("wa_template", "")).strip()
        cleaned["wa_language"] = str(config.get("wa_language", "")).strip()
        cleaned["wa_placeholders"] = "\n".join(
            whatsapp.placeholder_lines(str(config.get("wa_placeholders", "")))
        )
        try:
            whatsapp.template_check(
                name=cleaned["wa_template"],
                language=cleaned["wa_language"],
                placeholders=cleaned["wa_placeholders"],
            )
        except ValidationError as error:
            field, messages = next(iter(error.message_dict.items()))
            raise _invalid(field, messages[0]) from None
    if channel == "EMAIL" and not cleaned["subject"]:
        raise _invalid("subject", "Write the email's subject.")
    for name in ("text", "subject", "html"):
        error = content.template_error(cleaned[name], html=name == "html")
        if cleaned[name] and error:
            raise _invalid(name, error)
    return cleaned


def _check_wait(flow: Flow, config: dict) -> dict:
    mode = config.get("mode", "duration")
    if mode == "duration":
        return {"mode": mode, **_duration(config)}
    if mode == "time_of_day":
        return {"mode": mode, "time": _time(config.get("time"))}
    if mode == "date_attribute":
        attribute = str(config.get("attribute", "")).strip()
        if not attribute:
            raise _invalid(
                "attribute", "Name the date attribute to wait for (birth_date or a custom attribute)."
            )
        try:
            offset = int(config.get("offset_days", 0) or 0)
        except (TypeError, ValueError):
            raise _invalid(
                "offset_days", "The offset is a whole number of days (negative: before)."
            ) from None
        return {
            "mode": mode,
            "attribute": attribute,
            "offset_days": offset,
            "time": _time(config.get("time") or "09:00"),
        }
    raise _invalid("mode", f"{mode!r} is not a way to wait: a duration, a time of day or a date attribute.")


def _check_wait_reply(flow: Flow, config: dict) -> dict:
    return _duration(config)


def _step_target(flow: Flow, value, field: str) -> int | None:
    if value in (None, ""):
        return None  # the next step
    try:
        pk = int(value)
    except (TypeError, ValueError):
        raise _invalid(field, f"{value!r} is not a step of this flow.") from None
    if not FlowStep.objects.filter(flow=flow, pk=pk).exists():
        raise _invalid(field, f"Step {pk} is not a step of this flow.")
    return pk


def _check_branch(flow: Flow, config: dict) -> dict:
    from segments import selectors as segment_selectors

    rule, word = config.get("rule"), str(config.get("reply_contains", "") or "").strip()
    if bool(rule) == bool(word):
        raise _invalid("reply_contains", "A branch tests either a rule or a word in the reply.")
    cleaned: dict = {
        "then": _step_target(flow, config.get("then"), "then"),
        "else": _step_target(flow, config.get("else"), "else"),
    }
    if rule:
        errors = segment_selectors.rule_validate(account=flow.account, rule=rule)
        if errors:
            raise _invalid("rule", "The rule is not valid: " + " ".join(str(e) for e in errors))
        cleaned["rule"] = segment_selectors.rule_clean(account=flow.account, rule=rule)
    else:
        cleaned["reply_contains"] = word
    return cleaned


def _check_tag(flow: Flow, config: dict) -> dict:
    from tags.models import Tag

    try:
        tag = Tag.objects.get(account=flow.account, pk=int(config.get("tag")))
    except (TypeError, ValueError, Tag.DoesNotExist):
        raise _invalid("tag", "Choose one of the account's tags.") from None
    return {"tag": tag.pk}


def _check_dnc(flow: Flow, config: dict) -> dict:
    channel = config.get("channel", "") or ""
    if channel and channel not in CHANNEL_CONTACT:
        raise _invalid("channel", f"{channel!r} is not a channel.")
    return {"channel": channel, "sender": str(config.get("sender", "") or "").strip()}


STEP_CHECKS: dict[str, Callable[[Flow, dict], dict]] = {
    StepKind.SEND: _check_send,
    StepKind.WAIT: _check_wait,
    StepKind.WAIT_REPLY: _check_wait_reply,
    StepKind.BRANCH: _check_branch,
    StepKind.ADD_TAG: _check_tag,
    StepKind.REMOVE_TAG: _check_tag,
    StepKind.ADD_DNC: _check_dnc,
    StepKind.REMOVE_DNC: _check_dnc,
    StepKind.EXIT: lambda flow, config: {},
}


def step_config_clean(*, flow: Flow, kind: str, config: dict) -> dict:
    if kind not in STEP_CHECKS:
        raise ValidationError(f"{kind!r} is not a kind of step.")
    return STEP_CHECKS[kind](flow, dict(config or {}))


def _editable(flow: Flow) -> None:
    if flow.status == FlowStatus.ACTIVE:
        raise ValidationError("The steps of an active flow are locked: pause the flow or finish it first.")
    if flow.status == FlowStatus.FINISHED:
        raise ValidationError("A finished flow can't be changed.")


@transaction.atomic
def flow_step_add(*, flow: Flow, kind: str, config: dict) -> FlowStep:
    _editable(flow)
    cleaned = step_config_clean(flow=flow, kind=kind, config=config)
    last = flow.steps.order_by("-position").values_list("position", flat=True).first() or 0
    return FlowStep.objects.create(flow=flow, position=last + 1, kind=kind, config=cleaned)


def flow_step_update(*, step: FlowStep, config: dict) -> FlowStep:
    _editable(step.flow)
    step.config = step_config_clean(flow=step.flow, kind=step.kind, config=config)
    step.save(update_fields=["config"])
    return step


@transaction.atomic
def flow_step_remove(*, step: FlowStep) -> None:
    flow = step.flow
    _editable(flow)
    waiting = FlowRun.objects.filter(flow=flow, step=step, state=RunState.WAITING).count()
    if waiting:
        who = "1 person is" if waiting == 1 else f"{waiting:,} people are"
        raise ValidationError(f"{who} at this step: it can't be removed while they are.")
    for other in flow.steps.filter(kind=StepKind.BRANCH):
        if step.pk in (other.config.get("then"), other.config.get("else")):
            raise ValidationError(f"Step {other.position} (a branch) goes to this step: change it first.")
    step.delete()
    for position, pk in enumerate(
        flow.steps.order_by("position", "id").values_list("pk", flat=True), start=1
    ):
        FlowStep.objects.filter(pk=pk).update(position=position)


@transaction.atomic
def flow_step_move(*, step: FlowStep, up: bool) -> None:
    _editable(step.flow)
    steps = list(step.flow.steps.order_by("position", "id"))
    index = next(i for i, s in enumerate(steps) if s.pk == step.pk)
    other = index - 1 if up else index + 1
    if not 0 <= other < len(steps):
        return
    steps[index], steps[other] = steps[other], steps[index]
    for position, s in enumerate(steps, start=1):
        FlowStep.objects.filter(pk=s.pk).update(position=position)


def flow_options_set(*, flow: Flow, leave_when_unmatched: bool, allow_reentry: bool) -> Flow:
    """The entry point's options; they apply from the entries task's next pass."""
    if flow.status == FlowStatus.FINISHED:
        raise ValidationError("A finished flow can't be changed.")
    flow.leave_when_unmatched, flow.allow_reentry = leave_when_unmatched, allow_reentry
    flow.modified_at = timezone.now()
    flow.save(update_fields=["leave_when_unmatched", "allow_reentry", "modified_at"])
    return flow


@transaction.atomic
def flow_copy(*, flow: Flow, user) -> Flow:
    """A draft copy of `flow` to edit while the flow runs (its steps are locked): the same entry
    audience, options and steps, a branch's targets pointed at the copy's own steps. Nobody is
    in it: activating it enrols its audience, as any draft."""
    from communications.models import AudienceItem

    copy = Flow.objects.create(
        account=flow.account,
        created_by=user,
        name=f"Copy of {flow.name}"[:255],
        leave_when_unmatched=flow.leave_when_unmatched,
        allow_reentry=flow.allow_reentry,
    )
    AudienceItem.objects.bulk_create(
        AudienceItem(
            account=flow.account,
            flow=copy,
            kind=item.kind,
            object_id=item.object_id,
            selection=item.selection,
        )
        for item in flow.items.all()
    )
    steps = list(flow.steps.order_by("position", "id"))
    copies = FlowStep.objects.bulk_create(
        FlowStep(flow=copy, position=step.position, kind=step.kind, config=dict(step.config))
        for step in steps
    )
    ids = {step.pk: new.pk for step, new in zip(steps, copies, strict=True)}
    for new in copies:
        if new.kind == StepKind.BRANCH:
            new.config.update({key: ids.get(new.config.get(key)) for key in ("then", "else")})
            new.save(update_fields=["config"])
    return copy


# --- Enrolment and status ------------------------------------------------------------------------


def flow_enrol(
    *,
    flow: Flow,
    now: dt.datetime | None = None,
    items: list | None = None,
    profile_ids: list[int] | None = None,
) -> int:
    """Enrol the flow's whole entry audience (or the people of `items`) at its first step, due
    now: one INSERT … SELECT over the same audience query a broadcast sends to (its rows are
    profiles, so each person once); people already in the flow are skipped by the unique key.
    `profile_ids`: the whole entry audience's ids, read already (on a replica, by
    `flow_audience_ids`), inserted in chunks instead. With replicas, and outside a transaction
    (the entries task), the audience is read on a replica too (`_enrol_from_replica`)."""
    now = now or timezone.now()
    first = flow.steps.order_by("position", "id").first()
    if first is None:
        raise ValidationError("Add a step to the flow before you activate it.")
    fresh = items is None  # activation: the whole entry audience, of a flow nobody entered yet
    at = connection.ops.adapt_datetimefield_value(now)
    if profile_ids is not None:
        return _runs_insert(flow=flow, step=first, at=at, chunks=_chunked(profile_ids), fresh=fresh)
    if items is None:
        items = list(flow.items.all())
    audience = selectors.audience_queryset(account=flow.account, items=items).order_by()
    if replicas.aliases() and not connection.in_atomic_block:
        return _enrol_from_replica(flow=flow, step=first, audience=audience, at=at)
    sql, params = audience.values(person_id=F("pk")).query.sql_with_params()
    insert = (
        f"INSERT INTO {FlowRun._meta.db_table} (account_id, flow_id, profile_id, step_id, state, "
        "due_at, reply, error, claim, entered_at, entries) "
        f"SELECT %s, %s, person.person_id, %s, %s, %s, '', '', '', %s, 1 FROM ({sql}) AS person"
    )
    params = [flow.account_id, flow.pk, first.pk, str(RunState.WAITING), at, at, *params]
    with connection.cursor() as cursor:
        if fresh:
            # Activation (nobody entered the draft yet): a plain INSERT, without the
            # per-row conflict check; should anyone be in it after all, the unique key refuses
            # the statement and the one with the check runs instead.
            try:
                with transaction.atomic():
                    cursor.execute(insert, params)
                    return cursor.rowcount
            except IntegrityError:
                pass
        # (WHERE true: SQLite reads an ON right after FROM as a join's.)
        cursor.execute(insert + " WHERE true ON CONFLICT (profile_id, flow_id) DO NOTHING", params)
        return cursor.rowcount


ENROL_CHUNK = 10_000  # profile ids a chunk of the enrolment from a replica: one read, one insert
ENROL_INSERT_CHUNK = 50_000  # profile ids an INSERT of activation's ids read on a replica


def flow_audience_ids(*, flow: Flow) -> list[int] | None:
    """The profile ids of the flow's whole entry audience, in id order, read on a replica caught
    up with the account's last write (the rule of counts); None when there is none (or it failed
    under the read, or the connection is in a transaction): the enrolment then reads the primary
    with its INSERT … SELECT. Activation calls it before its transaction, so that the primary
    only writes. The query is built here, on the primary (the flow's items, its segments'
    rules); only the ids are read on the replica."""
    if not replicas.aliases() or connection.in_atomic_block:
        return None
    audience = selectors.audience_queryset(account=flow.account, items=list(flow.items.all())).order_by()
    sql, params = audience.values(person_id=F("pk")).query.sql_with_params()

    def read() -> list[int]:
        # One array rather than a row an id: a million ids come over in a fraction of the time.
        with connections[router.db_for_read(Profile)].cursor() as cursor:
            cursor.execute(f"SELECT array_agg(person.person_id) FROM ({sql}) AS person", params)
            return cursor.fetchone()[0] or []

    ids, alias = replicas.replica_only(flow.account_id, read)
    if alias is None:
        return None
    ids.sort()
    return ids


def _chunked(ids: list[int]):
    for start in range(0, len(ids), ENROL_INSERT_CHUNK):
        yield ids[start : start + ENROL_INSERT_CHUNK]


def _runs_insert(*, flow: Flow, step: FlowStep, at, chunks, fresh: bool = False) -> int:
    """Insert a run at `step` for each chunk of profile ids (PostgreSQL: one INSERT … SELECT
    FROM unnest a chunk), for the ids the primary still has as profiles of the account (one
    deleted since a replica's read gets no run), skipping people already in. `fresh`: nobody is
    in the flow yet (a draft's activation, under the flow's lock), so the inserts leave out the
    per-row conflict check until the unique key refuses one (then it is redone with it)."""
    insert = (
        f"INSERT INTO {FlowRun._meta.db_table} (account_id, flow_id, profile_id, step_id, state, "
        "due_at, reply, error, claim, entered_at, entries) "
        f"SELECT %s, %s, p.id, %s, %s, %s, '', '', '', %s, 1 FROM unnest(%s::bigint[]) AS person(id) "
        f"JOIN {Profile._meta.db_table} p ON p.id = person.id AND p.account_id = %s"
    )
    conflict = " ON CONFLICT (profile_id, flow_id) DO NOTHING"
    entered = 0
    with connection.cursor() as cursor:
        for ids in chunks:
            params = [flow.account_id, flow.pk, step.pk, str(RunState.WAITING), at, at, ids, flow.account_id]
            if fresh:
                try:
                    with transaction.atomic():
                        cursor.execute(insert, params)
                    entered += cursor.rowcount
                    continue
                except IntegrityError:
                    fresh = False
            cursor.execute(insert + conflict, params)
            entered += cursor.rowcount
    return entered


def _enrol_from_replica(*, flow: Flow, step: FlowStep, audience, at) -> int:
    """`flow_enrol` with replicas (PostgreSQL) outside a transaction (the entries task): the
    audience's profile ids read in keyset chunks on a replica that holds everything committed
    before the enrolment began, else on the primary (`replicas.job_id_chunks`), and each chunk's
    runs inserted on the primary (`_runs_insert`), skipping people already in."""
    chunks = replicas.job_id_chunks(None, audience, after=0, size=ENROL_CHUNK)
    return _runs_insert(flow=flow, step=step, at=at, chunks=chunks)


def flow_entries_refresh(*, now: dt.datetime | None = None) -> int:
    """The entries task (beat, every few minutes), for each active flow: people who started to
    match an entry segment, or got an entry tag, enter it (the same INSERT … SELECT as activation
    over the flow's tag and segment items, skipping everyone already in; a predefined People
    selection or a company is read once, at activation). With "leave when unmatched", people
    still in the flow who no longer match its entry audience leave it (state `left`); with
    "allow re-entry", a person whose run ended and who stopped matching enters again, at step 1,
    when they match again. Returns how many entered (or entered again)."""
    now = now or timezone.now()
    entered = 0
    active = (
        Flow.objects.filter(status=FlowStatus.ACTIVE, steps__isnull=False)
        .distinct()
        .select_related("account")
    )
    for flow in active:
        if flow.leave_when_unmatched or flow.allow_reentry:
            flow_runs_unmatched(flow=flow, now=now)
        items = list(flow.items.filter(kind__in=[ItemKind.TAG, ItemKind.SEGMENT]))
        if items:
            if flow.allow_reentry:
                entered += flow_reenter(flow=flow, items=items, now=now)
            entered += flow_enrol(flow=flow, now=now, items=items)
    return entered


def _entry_audience(flow: Flow, items: list | None = None):
    items = list(flow.items.all()) if items is None else items
    return selectors.audience_queryset(account=flow.account, items=items).order_by().values("pk")


def flow_runs_unmatched(*, flow: Flow, now: dt.datetime) -> int:
    """People of `flow` who no longer match its whole entry audience: waiting runs leave (with
    "leave when unmatched"), ended runs are marked `unmatched_at` (with "allow re-entry", so
    matching again re-enters them). A run claimed by a worker loses its claim: the worker
    skips it when it commits. Returns how many left."""
    audience = _entry_audience(flow)
    left = 0
    if flow.leave_when_unmatched:
        left = (
            FlowRun.objects.filter(flow=flow, state=RunState.WAITING)
            .exclude(profile_id__in=audience)
            .update(
                state=RunState.LEFT,
                unmatched_at=now,
                claim="",
                claimed_until=None,
                wait_started_at=None,
            )
        )
    if flow.allow_reentry:
        FlowRun.objects.filter(flow=flow, unmatched_at__isnull=True).exclude(state=RunState.WAITING).exclude(
            profile_id__in=audience
        ).update(unmatched_at=now)
    return left


def flow_reenter(*, flow: Flow, items: list, now: dt.datetime) -> int:
    """Runs that ended, whose person stopped matching (`unmatched_at`) and matches `items` again,
    start over at the first step, due now, as a new entry (new send keys)."""
    first = flow.steps.order_by("position", "id").first()
    if first is None:
        return 0
    return (
        FlowRun.objects.filter(flow=flow, unmatched_at__isnull=False)
        .exclude(state=RunState.WAITING)
        .filter(profile_id__in=_entry_audience(flow, items))
        .update(
            state=RunState.WAITING,
            step=first,
            due_at=now,
            wait_started_at=None,
            reply="",
            error="",
            claim="",
            claimed_until=None,
            entered_at=now,
            unmatched_at=None,
            entries=F("entries") + 1,
        )
    )


def flow_runs_exit(*, flow: Flow) -> int:
    """Finishing a flow ends its runs where they are."""
    return FlowRun.objects.filter(flow=flow, state=RunState.WAITING).update(
        state=RunState.EXITED, claim="", claimed_until=None
    )


# --- The scheduler -------------------------------------------------------------------------------


CLAIM_TRIES = 3  # reads of due runs one claim makes when another worker took all it read


def _claim(now: dt.datetime, limit: int) -> list[FlowRun]:
    """Claim up to `limit` due runs of active flows: a conditional UPDATE that repeats the
    conditions, so of two workers racing for a run only one UPDATE changes it (the other reads
    again, so it does not stop while due runs remain). One step of one active flow at a time:
    each read is a range of `flowrun_due` (flow, step, due_at, waiting runs) that stops after
    `limit`. The claimed runs are read back by id, each given its flow (and account) from one
    query, not a join a row."""
    free = Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    steps = list(
        FlowStep.objects.filter(flow__status=FlowStatus.ACTIVE)
        .order_by("flow_id", "position", "id")
        .values_list("flow_id", "pk")
    )
    for _ in range(CLAIM_TRIES):
        ids: list[int] = []
        for flow_id, step_id in steps:
            due = FlowRun.objects.filter(
                free, flow_id=flow_id, step_id=step_id, state=RunState.WAITING, due_at__lte=now
            )
            ids += list(due.order_by("due_at").values_list("pk", flat=True)[: limit - len(ids)])
            if len(ids) >= limit:
                break
        if not ids:
            return []
        token = uuid.uuid4().hex
        claimed = FlowRun.objects.filter(free, pk__in=ids, state=RunState.WAITING, due_at__lte=now).update(
            claim=token, claimed_until=now + dt.timedelta(seconds=FLOW_CLAIM_SECONDS)
        )
        if claimed:
            break
    else:
        return []
    runs = list(FlowRun.objects.filter(pk__in=ids, claim=token))
    by_id = Flow.objects.select_related("account").in_bulk({run.flow_id for run in runs})
    for run in runs:
        run.flow = by_id[run.flow_id]
    return runs


def flow_runs_fan_out() -> int:
    """Queue SEND_PROCESSES - 1 helper tasks (`flow_runs_share_task`) for the beat task's pass:
    each claims due runs with the same conditional UPDATE, so the worker processes share them
    a chunk at a time, and a helper that is lost or dies loses nothing (its claims expire).
    The broker down: the pass runs alone. Returns how many were queued."""
    from communications import tasks

    queued = 0
    for _ in range(settings.SEND_PROCESSES - 1):
        try:
            tasks.flow_runs_share_task.delay()
        except Exception:
            logger.warning("queueing a helper of the flow scheduler failed")
            break
        queued += 1
    return queued


def flow_runs_due(
    *, now: dt.datetime | None = None, chunk: int | None = None, chunks: int | None = None
) -> int:
    """Execute the due runs of active flows, a chunk (CHUNK runs) at a time; returns how many
    runs moved. Any number of processes may run it at once (`flow_runs_fan_out`): each chunk is
    claimed by one of them."""
    now = now or timezone.now()
    chunk = chunk or CHUNK
    done = 0
    taken = 0
    while chunks is None or taken < chunks:
        runs = _claim(now, chunk)
        if not runs:
            break
        taken += 1
        flow_runs_execute(runs=runs, now=now)
        done += len(runs)
    return done


def flow_runs_execute(*, runs: list[FlowRun], now: dt.datetime) -> None:
    """Move each run through its due steps: the runs at one step together, then the next."""
    by_flow: dict[int, list[FlowRun]] = {}
    for run in runs:
        by_flow.setdefault(run.flow_id, []).append(run)
    for flow_runs in by_flow.values():
        flow = flow_runs[0].flow
        steps = list(flow.steps.order_by("position", "id"))
        pending = flow_runs
        for _ in range(MAX_HOPS):
            # Only runs still due now, at a step, in an active flow, go on this pass.
            pending = [r for r in pending if r.state == RunState.WAITING and r.due_at <= now and r.step_id]
            if not pending or not Flow.objects.filter(pk=flow.pk, status=FlowStatus.ACTIVE).exists():
                break
            at_step: dict[int, list[FlowRun]] = {}
            for run in pending:
                at_step.setdefault(run.step_id, []).append(run)
            for step_id, group in at_step.items():
                step = next((s for s in steps if s.pk == step_id), None)
                if step is None:
                    continue
                _step_execute(flow, steps, step, group, now)
        # Release the claims still ours (an expired one may be another worker's by now): the
        # runs a step left waiting or ended released theirs in the same UPDATE that moved them.
        held = [r for r in flow_runs if r.claim]
        if held:
            FlowRun.objects.filter(pk__in=[r.pk for r in held], claim__in={r.claim for r in held}).update(
                claim="", claimed_until=None
            )


@dataclass
class Outcome:
    """What a step did to one run: go to `step` (None: the flow is done), wait until `due`,
    fail with `error`, or exit."""

    step: FlowStep | None = None
    due: dt.datetime | None = None
    wait_started: bool = False
    state: str = RunState.WAITING
    error: str = ""
    passed: bool = True


def _next(steps: list[FlowStep], step: FlowStep) -> FlowStep | None:
    index = next(i for i, s in enumerate(steps) if s.pk == step.pk)
    return steps[index + 1] if index + 1 < len(steps) else None


def _step_execute(
    flow: Flow, steps: list[FlowStep], step: FlowStep, runs: list[FlowRun], now: dt.datetime
) -> None:
    """Run one step for `runs`, then commit where each run goes. The step's own writes are not
    in that transaction: a send commits its message rows before the hand-off and the channel its
    hand-off keys (as a broadcast does), so a worker killed mid-step redoes it without a second
    delivery; tags and Do Not Contact are set operations, safe to redo."""
    outcomes = EXECUTORS[step.kind](flow, steps, step, runs, now)
    with transaction.atomic():
        _runs_move(step, runs, outcomes, now)


def _runs_move(step: FlowStep, runs: list[FlowRun], outcomes: dict[int, Outcome], now: dt.datetime) -> None:
    claims = {run.claim for run in runs if run.claim}
    if claims:  # a run whose claim expired and went to another worker is that worker's now
        mine = set(
            FlowRun.objects.select_for_update()
            .filter(pk__in=[run.pk for run in runs], claim__in=claims)
            .values_list("pk", flat=True)
        )
        runs = [run for run in runs if run.pk in mine]
    passed: list[int] = []
    failed: list[tuple[int, str]] = []
    for run in runs:
        outcome = outcomes[run.pk]
        if outcome.wait_started:  # still at this step, waiting
            run.wait_started_at, run.due_at = now, outcome.due
        else:
            run.wait_started_at = None
            if outcome.state == RunState.WAITING and outcome.step is None:
                outcome.state = RunState.DONE
            run.state = outcome.state
            run.error = outcome.error[:500]
            if outcome.state == RunState.WAITING:
                run.step, run.due_at = outcome.step, now
            if outcome.passed:
                passed.append(run.profile_id)
            else:
                failed.append((run.profile_id, run.error))
    # A run that goes on this pass (at its next step, due now) keeps its claim; one that waits
    # or ended releases it here, so no second UPDATE of the same rows releases it afterwards.
    for run in runs:
        if not (run.state == RunState.WAITING and run.due_at <= now):
            run.claim = ""
    # One UPDATE per distinct outcome (a chunk at one step mostly shares one), not a CASE per row.
    groups: dict[tuple, list[int]] = {}
    for run in runs:
        key = (run.step_id, run.state, run.due_at, run.wait_started_at, run.error, bool(run.claim))
        groups.setdefault(key, []).append(run.pk)
    for (step_id, state, due_at, wait_started_at, error, held), pks in groups.items():
        release = {} if held else {"claim": "", "claimed_until": None}
        FlowRun.objects.filter(pk__in=pks).update(
            step_id=step_id,
            state=state,
            due_at=due_at,
            wait_started_at=wait_started_at,
            error=error,
            **release,
        )
    _passages_record(step, passed, failed, now)


def _passages_record(
    step: FlowStep, passed: list[int], failed: list[tuple[int, str]], now: dt.datetime
) -> None:
    """Record who left `step` each way (`FlowPassage`, once per step, outcome and person) and
    raise the step's counts by the rows inserted, in the caller's transaction (the runs' move):
    a chunk redone after a crash, a branch loop or a re-entry inserts no second row, so it
    counts nobody twice, and the counts equal the lists."""
    account_id = step.flow.account_id
    counts = {}
    for is_failed, rows in ((False, [(pk, "") for pk in passed]), (True, failed)):
        counts[is_failed] = _passages_insert(account_id, step.pk, is_failed, rows, now) if rows else 0
    if counts[False] or counts[True]:
        FlowStep.objects.filter(pk=step.pk).update(
            passed=F("passed") + counts[False], failed=F("failed") + counts[True]
        )


def _passages_insert(
    account_id: int, step_id: int, failed: bool, rows: list[tuple[int, str]], now: dt.datetime
) -> int:
    """INSERT the rows (profile id, error) skipping those already there: how many it inserted.
    PostgreSQL takes the chunk as two arrays; SQLite as VALUES lists of 200 rows."""
    table = FlowPassage._meta.db_table
    columns = f"INSERT INTO {table} (account_id, step_id, profile_id, failed, error, at) "
    conflict = " ON CONFLICT (step_id, failed, profile_id) DO NOTHING"
    at = connection.ops.adapt_datetimefield_value(now)
    inserted = 0
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                columns + "SELECT %s, %s, p.id, %s, p.error, %s "
                "FROM unnest(%s::bigint[], %s::text[]) AS p(id, error)" + conflict,
                [account_id, step_id, failed, at, [pk for pk, _ in rows], [error for _, error in rows]],
            )
            return cursor.rowcount
        for start in range(0, len(rows), 200):
            batch = rows[start : start + 200]
            values = ", ".join(["(%s, %s, %s, %s, %s, %s)"] * len(batch))
            params = [v for pk, error in batch for v in (account_id, step_id, pk, failed, error, at)]
            cursor.execute(columns + "VALUES " + values + conflict, params)
            inserted += cursor.rowcount
    return inserted


# --- Step kinds ----------------------------------------------------------------------------------


def _zone(account: Account) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(account.time_zone or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def _at(day: dt.date, time: str, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    hour, minute = (int(part) for part in time.split(":"))
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=zone)


def next_time_of_day(now: dt.datetime, time: str, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    """The next moment (after `now`) the account's clock shows `time`."""
    local = now.astimezone(zone)
    at = _at(local.date(), time, zone)
    if at <= local:
        at = _at(local.date() + dt.timedelta(days=1), time, zone)
    return at


def _date_of(profile: dict, attribute: str) -> dt.date | None:
    name = attribute.removeprefix("custom.")
    value = profile.get(name) if name in ("birth_date",) else (profile["attributes"] or {}).get(name)
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


def _wait(flow, steps, step, runs, now) -> dict[int, Outcome]:
    config, outcomes = step.config, {}
    zone = _zone(flow.account)
    dates = {}
    if config["mode"] == "date_attribute":
        rows = Profile.objects.filter(pk__in=[r.profile_id for r in runs]).values(
            "pk", "birth_date", "attributes"
        )
        dates = {row["pk"]: _date_of(row, config["attribute"]) for row in rows}
    for run in runs:
        if run.wait_started_at is not None:  # the wait is over
            outcomes[run.pk] = Outcome(step=_next(steps, step))
            continue
        if config["mode"] == "duration":
            due = now + dt.timedelta(seconds=config["amount"] * UNITS[config["unit"]])
        elif config["mode"] == "time_of_day":
            due = next_time_of_day(now, config["time"], zone)
        else:
            day = dates.get(run.profile_id)
            if day is None:  # no date to wait for: the person goes on
                outcomes[run.pk] = Outcome(step=_next(steps, step))
                continue
            due = _at(day + dt.timedelta(days=config["offset_days"]), config["time"], zone)
        outcomes[run.pk] = (
            Outcome(due=due, wait_started=True) if due > now else Outcome(step=_next(steps, step))
        )
    return outcomes


def _wait_reply(flow, steps, step, runs, now) -> dict[int, Outcome]:
    outcomes = {}
    fresh = [r.pk for r in runs if r.wait_started_at is None]
    if fresh:  # the reply a next step reads is the one received here
        FlowRun.objects.filter(pk__in=fresh).update(reply="")
    for run in runs:
        if run.wait_started_at is not None:  # a reply came (due now) or the time is up
            outcomes[run.pk] = Outcome(step=_next(steps, step))
        else:
            run.reply = ""
            seconds = step.config["amount"] * UNITS[step.config["unit"]]
            outcomes[run.pk] = Outcome(due=now + dt.timedelta(seconds=seconds), wait_started=True)
    return outcomes


def _target(steps: list[FlowStep], step: FlowStep, pk: int | None) -> FlowStep | None:
    if pk is None:
        return _next(steps, step)
    return next((s for s in steps if s.pk == pk), None)


def _branch(flow, steps, step, runs, now) -> dict[int, Outcome]:
    from segments import selectors as segment_selectors

    config = step.config
    if config.get("rule"):
        matching = set(
            segment_selectors.rule_queryset(account=flow.account, rule=config["rule"], now=now)
            .filter(pk__in=[r.profile_id for r in runs])
            .values_list("pk", flat=True)
        )
        test = lambda run: run.profile_id in matching  # noqa: E731
    else:
        word = config["reply_contains"].casefold()
        reply = dict(FlowRun.objects.filter(pk__in=[r.pk for r in runs]).values_list("pk", "reply"))
        test = lambda run: bool(re.search(rf"\b{re.escape(word)}\b", (reply.get(run.pk) or "").casefold()))  # noqa: E731
    return {
        run.pk: Outcome(step=_target(steps, step, config["then"] if test(run) else config["else"]))
        for run in runs
    }


def _tags(flow, steps, step, runs, now) -> dict[int, Outcome]:
    from tags import services as tag_services
    from tags.models import Tag

    tag = Tag.objects.filter(account=flow.account, pk=step.config["tag"]).first()
    ids = [r.profile_id for r in runs]
    if tag is None:
        return {
            r.pk: Outcome(state=RunState.FAILED, error="The step's tag no longer exists.", passed=False)
            for r in runs
        }
    if step.kind == StepKind.ADD_TAG:
        tag_services.tags_add(account=flow.account, tags=[tag], profile_ids=ids)
    else:
        tag_services.tags_remove(account=flow.account, tags=[tag], profile_ids=ids)
    return {r.pk: Outcome(step=_next(steps, step)) for r in runs}


def _contacts(account: Account, profile_ids: list[int], channel: str) -> list[str]:
    contacts = Contact.objects.filter(account=account, profile_id__in=profile_ids)
    if channel:
        contacts = contacts.filter(kind=CHANNEL_CONTACT[channel])
    return list(contacts.values_list("value", flat=True))


def _dnc(flow, steps, step, runs, now) -> dict[int, Outcome]:
    from dnc import services as dnc_services
    from dnc.models import DncEntry, How, Source

    channel, sender = step.config.get("channel", ""), step.config.get("sender", "")
    values = _contacts(flow.account, [r.profile_id for r in runs], channel)
    if step.kind == StepKind.ADD_DNC:
        dnc_services.dnc_entries_add(
            accounts=[flow.account],
            entries=({"contact": value, "sender": sender, "channel": channel} for value in values),
            source=Source.CAMPAIGN,
            campaign=flow.name,
            how=How.SOURCE,
        )
    else:
        keys = set()
        for value in values:
            try:
                key = dnc_services.dnc_entry_parse(contact=value, sender=sender, channel=channel)
            except ValidationError:
                continue
            keys.add(key.value)
        entries = DncEntry.objects.filter(
            value__in=keys, sender=dnc_services.sender_normalize(sender), channel=channel
        ).values_list("pk", flat=True)
        dnc_services.dnc_entries_remove(
            entry_ids=list(entries), account=flow.account, removed_by=None, how=How.SOURCE
        )
    return {r.pk: Outcome(step=_next(steps, step)) for r in runs}


def _exit(flow, steps, step, runs, now) -> dict[int, Outcome]:
    return {r.pk: Outcome(state=RunState.EXITED) for r in runs}


def flow_message_key(flow_id: int, step_id: int, profile_id: int, entries: int = 1) -> str:
    """A send's idempotency key; a person who entered again (re-entry) gets new ones."""
    key = f"f{flow_id}:{step_id}:{profile_id}"
    return key if entries <= 1 else f"{key}:{entries}"


@dataclass(frozen=True)
class FlowOutgoing(backends.Outgoing):
    """A flow's message: its idempotency key is flow + step + person."""

    flow_key: str = ""

    @property
    def key(self) -> str:
        return self.flow_key


def _send(flow, steps, step, runs, now) -> dict[int, Outcome]:
    """Phase one writes a message row per person (unique by key; rows from a step redone after a
    crash are kept), phase two hands the `queued` ones over with their keys and commits the
    answer. Both in this step's transaction but the hand-off: a crash redoes it with the same keys."""

    config = step.config
    channel = config["channel"]
    ids = [r.profile_id for r in runs]
    keys = {r.profile_id: flow_message_key(flow.pk, step.pk, r.profile_id, r.entries) for r in runs}
    # (status, destination) of each person's message: the rows a redone step wrote, then the new.
    known = {
        pk: (status, destination)
        for pk, status, destination in FlowMessage.objects.filter(key__in=keys.values()).values_list(
            "profile_id", "status", "destination"
        )
    }
    todo = [pk for pk in ids if pk not in known]
    resolved = delivery.window_skip(
        account_id=flow.account_id,
        channel=channel,
        template=config.get("wa_template", ""),
        resolved=delivery.recipients_resolve(
            account=flow.account, channel=channel, sender=config["sender"], profile_ids=todo
        ),
    )
    rows = []
    for pk in todo:
        status, destination = known[pk] = resolved[pk]
        rows.append((pk, keys[pk], status, destination))
    _flow_messages_insert(flow, step, rows, now)
    # The hand-off commits its own rows: a crash after it leaves `queued` rows the redo hands over
    # again. The runs are this worker's (claimed): should the claim expire meanwhile, the other
    # worker's hand-off is deduplicated by key and `_runs_move` skips these runs.
    queued = [
        (pk, destination) for pk, (status, destination) in known.items() if status == MessageStatus.QUEUED
    ]
    statuses = {pk: status for pk, (status, _) in known.items()}
    if queued:
        failures = _hand_over(flow, step, queued, keys)
        # One UPDATE per distinct error (a provider that is down fails a chunk with one), as a
        # broadcast commits its answer, not one a failed message.
        by_error: dict[str, list[str]] = {}
        for pk, error in failures.items():
            by_error.setdefault(error[:500], []).append(keys[pk])
            statuses[pk] = MessageStatus.FAILED
        for error, failed_keys in by_error.items():
            _flow_messages_answer(failed_keys, MessageStatus.FAILED, error)
        _flow_messages_answer([keys[pk] for pk, _ in queued if pk not in failures], MessageStatus.SENT)
        statuses.update((pk, MessageStatus.SENT) for pk, _ in queued if pk not in failures)
    outcomes = {}
    for run in runs:
        status = statuses.get(run.profile_id)
        if status == MessageStatus.FAILED:
            outcomes[run.pk] = Outcome(
                state=RunState.FAILED, error="The message could not be sent.", passed=False
            )
        else:  # sent, or not sendable (Do Not Contact, no destination): the person goes on
            outcomes[run.pk] = Outcome(step=_next(steps, step))
    return outcomes


def _flow_messages_insert(flow: Flow, step: FlowStep, rows: list[tuple[int, str, str, str]], now) -> None:
    """The message rows of (profile id, key, status, destination), skipping a key already there
    (a row a step redone after a crash wrote). On PostgreSQL one INSERT … SELECT FROM unnest() of
    four arrays, as a broadcast's chunk; elsewhere `bulk_create`."""
    if not rows:
        return
    config = step.config
    if connection.vendor != "postgresql":
        FlowMessage.objects.bulk_create(
            [
                FlowMessage(
                    account_id=flow.account_id,
                    flow=flow,
                    step=step,
                    profile_id=pk,
                    key=key,
                    channel=config["channel"],
                    sender=config["sender"],
                    destination=destination,
                    status=status,
                    created_at=now,
                )
                for pk, key, status, destination in rows
            ],
            ignore_conflicts=True,
            batch_size=500,
        )
        return
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {FlowMessage._meta.db_table} (account_id, flow_id, step_id, profile_id, key,"
            " channel, sender, destination, status, error, created_at) SELECT %s, %s, %s, r.profile_id,"
            " r.key, %s, %s, r.destination, r.status, '', %s"
            " FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[])"
            " AS r(profile_id, key, status, destination) ON CONFLICT (key) DO NOTHING",
            [
                flow.account_id,
                flow.pk,
                step.pk,
                config["channel"],
                config["sender"],
                now,
                [pk for pk, _, _, _ in rows],
                [key for _, key, _, _ in rows],
                [status for _, _, status, _ in rows],
                [destination for _, _, _, destination in rows],
            ],
        )


def _flow_messages_answer(keys: list[str], status: str, error: str = "") -> None:
    """Record the channel's answer for the messages of `keys` still `queued` (on PostgreSQL the
    keys as one array parameter)."""
    if not keys:
        return
    if connection.vendor != "postgresql":
        FlowMessage.objects.filter(key__in=keys, status=MessageStatus.QUEUED).update(
            status=status, error=error
        )
        return
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {FlowMessage._meta.db_table} SET status = %s, error = %s"
            " WHERE key = ANY(%s::text[]) AND status = %s",
            [status, error, keys, str(MessageStatus.QUEUED)],
        )


def _hand_over(
    flow: Flow, step: FlowStep, queued: list[tuple[int, str]], keys: dict[int, str]
) -> dict[int, str]:
    """Render and hand over through the broadcasts' batch path (`delivery.outgoing_render`): an
    email carries its signed unsubscribe link (List-Unsubscribe and the `{{ unsubscribe_url }}`
    merge field), one HMAC over the message key, the URL reversed once a batch."""
    from communications import optout

    config = step.config
    channel, sender, label = config["channel"], config["sender"], config.get("sender_label", "")
    source = delivery.Source(
        flow.account_id,
        channel,
        sender,
        label,
        config["text"],
        config.get("subject", ""),
        config.get("html", ""),
        config.get("wa_template", ""),
        config.get("wa_language", ""),
        config.get("wa_placeholders", ""),
    )
    url = optout.flow_unsubscribe_url_maker() if channel == "EMAIL" else None

    def message(pk: int, destination: str, body: str, **email) -> FlowOutgoing:
        return FlowOutgoing(
            0,
            pk,
            channel,
            sender,
            destination,
            body,
            sender_label=label,
            account_id=flow.account_id,
            flow_key=keys[pk],
            **email,
        )

    outgoing = delivery.outgoing_render(
        source=source,
        queued=queued,
        message=message,
        unsubscribe=(lambda pk: url(keys[pk])) if url else None,
    )
    backend = backends.backend_get(channel)
    try:
        return backend.send(outgoing)
    except Exception as error:  # the provider is down: these people failed, the flow goes on
        logger.exception("channel backend failed in flow %s", flow.pk)
        return {m.profile_id: f"The channel backend failed: {error}" for m in outgoing}


EXECUTORS: dict[str, Callable[..., dict[int, Outcome]]] = {
    StepKind.SEND: _send,
    StepKind.WAIT: _wait,
    StepKind.WAIT_REPLY: _wait_reply,
    StepKind.BRANCH: _branch,
    StepKind.ADD_TAG: _tags,
    StepKind.REMOVE_TAG: _tags,
    StepKind.ADD_DNC: _dnc,
    StepKind.REMOVE_DNC: _dnc,
    StepKind.EXIT: _exit,
}


# --- Replies -------------------------------------------------------------------------------------


def flow_reply_received(*, account: Account, phone: str, text: str, now: dt.datetime | None = None) -> int:
    """An inbound message from `phone`: every run of the account's active flows whose person has
    that number and waits for a reply takes the text and goes on at the next pass. Returns how many."""
    now = now or timezone.now()
    profiles = Contact.objects.filter(account=account, kind="phone", value=phone).values("profile_id")
    return FlowRun.objects.filter(
        account=account,
        flow__status=FlowStatus.ACTIVE,
        state=RunState.WAITING,
        step__kind=StepKind.WAIT_REPLY,
        wait_started_at__isnull=False,
        profile_id__in=profiles,
    ).update(reply=text[:4000], due_at=now)


# --- Reads for the flow page ---------------------------------------------------------------------


def flow_step_counts(*, flow: Flow, step: FlowStep | None = None) -> dict[int, int]:
    """Per step id (or for `step` alone), how many people wait there: the steps' `waiting`
    counts, which triggers on the run table keep in the transaction of every statement that
    inserts, moves, ends or deletes runs (migration 0016), so reading them is one row a step
    however many wait, where a count(*) of the waiting runs took 0.5–0.8 s at 700,000."""
    steps = FlowStep.objects.filter(flow=flow, **({"pk": step.pk} if step else {}))
    return {pk: n for pk, n in steps.values_list("pk", "waiting") if n}


@dataclass
class StepRow:
    step: FlowStep
    summary: str
    waiting: int
    editable_config: dict


def flow_steps_page(*, flow: Flow) -> list[StepRow]:
    """The flow page's steps in order: each with what it does, in words, and how many wait there."""
    from tags.models import Tag

    steps = list(flow.steps.order_by("position", "id"))
    waiting = flow_step_counts(flow=flow)
    tag_ids = [s.config.get("tag") for s in steps if s.kind in (StepKind.ADD_TAG, StepKind.REMOVE_TAG)]
    tags = dict(Tag.objects.filter(account=flow.account, pk__in=tag_ids).values_list("pk", "name"))
    positions = {s.pk: s.position for s in steps}

    def target(pk) -> str:
        return "the next step" if pk is None else f"step {positions.get(pk, '?')}"

    rows = []
    for step in steps:
        c = step.config
        if step.kind == StepKind.SEND:
            summary = f"{c.get('channel')} from {c.get('sender') or 'the default sender'}: {c.get('subject') or c.get('text', '')[:60]}"
        elif step.kind == StepKind.WAIT and c.get("mode") == "time_of_day":
            summary = f"until {c['time']} (the account's time zone)"
        elif step.kind == StepKind.WAIT and c.get("mode") == "date_attribute":
            offset = c["offset_days"]
            when = f"{abs(offset)} days {'before' if offset < 0 else 'after'} " if offset else ""
            summary = f"until {when}{c['attribute']} at {c['time']}"
        elif step.kind in (StepKind.WAIT, StepKind.WAIT_REPLY):
            summary = (
                f"{'up to ' if step.kind == StepKind.WAIT_REPLY else ''}{c.get('amount')} {c.get('unit')}"
            )
        elif step.kind == StepKind.BRANCH:
            test = (
                f"the reply contains “{c['reply_contains']}”"
                if c.get("reply_contains")
                else "the person matches the rule"
            )
            summary = f"if {test}: {target(c.get('then'))}, else {target(c.get('else'))}"
        elif step.kind in (StepKind.ADD_TAG, StepKind.REMOVE_TAG):
            summary = tags.get(c.get("tag"), "(a deleted tag)")
        elif step.kind in (StepKind.ADD_DNC, StepKind.REMOVE_DNC):
            summary = (
                f"{c.get('channel') or 'all channels'}{', sender ' + c['sender'] if c.get('sender') else ''}"
            )
        else:
            summary = ""
        config = dict(c)
        if "rule" in config:
            config["rule"] = json.dumps(config["rule"])
        rows.append(StepRow(step, summary, waiting.get(step.pk, 0), config))
    return rows
