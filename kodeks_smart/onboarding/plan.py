"""From validated records and the dealer's current rows to a plan: what to add, change, keep, remove.

Planning never modifies a loaded row, so a plan can be shown (``--dry-run``) and thrown away. The
steps, in order:

1. cabinets: those named by the cabinets list are created; a named cabinet must exist or be created;
2. every row is put into a cabinet: the row's own «Кабинет», the cabinets list (by client, then by
   manager), ``--cabinet``, the client's current cabinet, the dealer's only cabinet — in that order;
3. managers are keyed by (cabinet, name); the e-mails an import gives a manager replace his old ones,
   a manager it names without e-mails must already exist in that cabinet;
4. clients are keyed by short name (unique per dealer): one cabinet and one manager per client;
5. objects are keyed as the database does: an installation by address (internet, cloud) or by client
   (agents), an online access by server, catalog and login, a mailbox by cabinet and address;
6. ``--prune`` removes, in the cabinets the import covers, objects of the imported kinds that the
   lists no longer name, then clients left without objects and managers left without clients;
7. checks on the result: cabinets must not share managers' or mailboxes' addresses (isolation), and a
   cabinet with more than 500 clients gets a recommendation to split its sales stream off.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from kodeks_smart.lib.secrets import SecretBox, SecretKeyError
from kodeks_smart.onboarding.formats import Kind
from kodeks_smart.onboarding.problems import Location, Problems
from kodeks_smart.onboarding.records import (
    InstallationRecord,
    MailboxRecord,
    ManagerRef,
    OnlineRecord,
    Records,
)
from kodeks_smart.onboarding.values import CATEGORY_TITLES, describe_tz, plural
from kodeks_smart.store.admin import AdminError
from kodeks_smart.store.models import Cabinet, Client, Dealer, Installation, Mailbox, Manager, OnlineAccess

DEFAULT_CABINET = "Основной"
STREAM_LIMIT = 500
CLIENTS = ("клиент", "клиента", "клиентов")
KIND_TITLES_RU = {"internet": "доступна из интернета", "cloud": "Техэксперт.Облако", "closed": "агенты"}
Action = Literal["add", "change", "unchanged", "remove"]
OPTION = Location("параметры импорта")


@dataclass(frozen=True)
class ImportOptions:
    dealer: str
    cabinet: str | None = None
    kind: Kind | None = None
    dry_run: bool = False
    prune: bool = False
    allow_shared_emails: frozenset[str] = frozenset()


# -- the dealer's current rows ------------------------------------------------------------------


@dataclass
class State:
    dealer: Dealer
    cabinets: dict[str, Cabinet]
    cabinet_names: dict[int, str]
    managers: dict[tuple[str, str], Manager]
    clients: dict[str, Client]
    client_names: dict[int, str]
    installations: list[Installation]
    online: list[OnlineAccess]
    mailboxes: list[Mailbox]

    manager_names: dict[int, str] = field(default_factory=dict)
    by_address: dict[str, Installation] = field(default_factory=dict)
    closed_by_client: dict[str, Installation] = field(default_factory=dict)
    online_by_key: dict[tuple[str, str, str], OnlineAccess] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.manager_names = {m.id: name for (_, name), m in self.managers.items()}
        for inst in self.installations:
            if inst.kind == "closed":
                self.closed_by_client.setdefault(self.client_names[inst.client_id], inst)
            elif inst.address:
                self.by_address.setdefault(inst.address.lower(), inst)
        for access in self.online:
            self.online_by_key.setdefault(_online_key(access), access)

    def manager_name(self, manager_id: int | None) -> str | None:
        return self.manager_names.get(manager_id) if manager_id is not None else None


def load_state(session: Session, dealer_code: str, *, lock: bool = False) -> State:
    """Every row of one dealer. With ``lock``, imports of that dealer queue behind each other (PostgreSQL)."""
    stmt = select(Dealer).where(Dealer.code == dealer_code)
    dealer = session.scalars(stmt.with_for_update() if lock else stmt).first()
    if dealer is None:
        raise AdminError(f"Дистрибьютор с кодом {dealer_code!r} не найден")
    cabinets = list(
        session.scalars(select(Cabinet).where(Cabinet.dealer_id == dealer.id).order_by(Cabinet.id))
    )
    names = {c.id: c.name for c in cabinets}

    def rows(model: Any) -> list[Any]:
        return list(session.scalars(select(model).where(model.dealer_id == dealer.id).order_by(model.id)))

    managers: list[Manager] = rows(Manager)
    clients: list[Client] = rows(Client)
    return State(
        dealer=dealer,
        cabinets={c.name: c for c in cabinets},
        cabinet_names=names,
        managers={(names[m.cabinet_id], m.name): m for m in managers},
        clients={c.short_name: c for c in clients},
        client_names={c.id: c.short_name for c in clients},
        installations=rows(Installation),
        online=rows(OnlineAccess),
        mailboxes=rows(Mailbox),
    )


# -- the plan -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldChange:
    field: str
    old: str
    new: str
    secret: bool = False

    def describe(self, action: Action) -> str:
        if self.secret:
            return f"{self.field}: будет изменён" if action == "change" else f"{self.field}: задан"
        if action == "change":
            return f"{self.field}: {self.old or '—'} → {self.new or '—'}"
        return f"{self.field}: {self.new or '—'}"

    def as_dict(self) -> dict[str, Any]:
        if self.secret:
            return {"field": self.field, "secret": True}
        return {"field": self.field, "old": self.old, "new": self.new}


@dataclass(frozen=True)
class Change:
    action: Action
    entity: str
    title: str
    fields: tuple[FieldChange, ...] = ()
    at: Location | None = None

    def describe(self) -> str:
        details = "; ".join(f.describe(self.action) for f in self.fields)
        return self.title + (f" — {details}" if details else "")

    def as_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "entity": self.entity,
            "title": self.title,
            "fields": [f.as_dict() for f in self.fields],
            "where": self.at.describe() if self.at else None,
        }


@dataclass
class PlannedManager:
    cabinet: str
    name: str
    at: Location
    existing: Manager | None
    emails: list[str] = field(default_factory=list)
    email_at: dict[str, Location] = field(default_factory=dict)

    @property
    def final_emails(self) -> list[str]:
        if self.emails:
            return list(self.emails)
        return list(self.existing.emails) if self.existing else []


@dataclass
class PlannedClient:
    short_name: str
    cabinet: str
    at: Location
    existing: Client | None
    manager: str | None = None
    manager_at: Location | None = None
    display_name: str | None = None


@dataclass
class PlannedMailbox:
    cabinet: str
    address: str
    categories: list[str]
    note: str
    at: Location
    existing: Mailbox | None


@dataclass
class Removals:
    installations: list[Installation] = field(default_factory=list)
    online: list[OnlineAccess] = field(default_factory=list)
    mailboxes: list[Mailbox] = field(default_factory=list)
    clients: list[Client] = field(default_factory=list)
    managers: list[Manager] = field(default_factory=list)

    def count(self) -> int:
        return (
            len(self.installations)
            + len(self.online)
            + len(self.mailboxes)
            + len(self.clients)
            + len(self.managers)
        )


@dataclass
class Plan:
    state: State
    new_cabinets: dict[str, Location | None] = field(default_factory=dict)
    managers: dict[tuple[str, str], PlannedManager] = field(default_factory=dict)
    clients: dict[str, PlannedClient] = field(default_factory=dict)
    installations: list[tuple[InstallationRecord, Installation | None]] = field(default_factory=list)
    online: list[tuple[OnlineRecord, OnlineAccess | None]] = field(default_factory=list)
    mailboxes: dict[tuple[str, str], PlannedMailbox] = field(default_factory=dict)
    #: what --prune removes (empty without --prune); `prunable` counts them either way.
    removals: Removals = field(default_factory=Removals)
    prunable: int = 0
    changes: list[Change] = field(default_factory=list)


def build_plan(
    state: State, records: Records, options: ImportOptions, box: SecretBox, problems: Problems
) -> Plan:
    return _Planner(state, records, options, box, problems).run()


class _Planner:
    def __init__(
        self, state: State, records: Records, options: ImportOptions, box: SecretBox, problems: Problems
    ) -> None:
        self.state = state
        self.records = records
        self.options = options
        self.box = box
        self.problems = problems
        self.plan = Plan(state)
        self.client_cabinet: dict[str, tuple[str, Location]] = {}
        self.manager_cabinets: dict[str, set[str]] = defaultdict(set)
        self.touched: set[str] = set()
        self.seen_installations: dict[str, Location] = {}
        self.seen_online: dict[tuple[str, str, str], Location] = {}

    def run(self) -> Plan:
        self._cabinets()
        for inst in self.records.installations:
            self._installation(inst)
        for access in self.records.online:
            self._online(access)
        for mailbox in self.records.mailboxes:
            self._mailbox(mailbox)
        self._cabinet_list_clients()
        self._check_managers()
        removals = self._removals()
        self.plan.prunable = removals.count()
        if self.options.prune:
            self.plan.removals = removals
        self._check_isolation()
        self._check_stream_size()
        self.plan.changes = _Differ(self.plan, self.box).changes()
        return self.plan

    # -- cabinets ---------------------------------------------------------------------------

    @property
    def all_cabinets(self) -> list[str]:
        return [*self.state.cabinets, *(n for n in self.plan.new_cabinets if n not in self.state.cabinets)]

    def _cabinets(self) -> None:
        for rec in self.records.cabinets:
            if rec.cabinet not in self.state.cabinets:
                self.plan.new_cabinets.setdefault(rec.cabinet, rec.cabinet_at)
            self.touched.add(rec.cabinet)
            if rec.client:
                seen = self.client_cabinet.get(rec.client)
                if seen and seen[0] != rec.cabinet:
                    self.problems.error(
                        rec.client_at,
                        f"клиент «{rec.client}» уже отнесён к кабинету «{seen[0]}» ({seen[1].describe()})",
                        "client-cabinet-conflict",
                    )
                else:
                    self.client_cabinet[rec.client] = (rec.cabinet, rec.client_at or rec.at)
            if rec.manager:
                self.manager_cabinets[rec.manager.name].add(rec.cabinet)
                self._manager(rec.cabinet, rec.manager)
        wanted = self.options.cabinet
        if wanted and wanted not in self.all_cabinets:
            self.problems.error(
                OPTION,
                f"кабинет «{wanted}» не найден у дистрибьютора {self.state.dealer.code}"
                + (
                    f" (есть: {', '.join(f'«{c}»' for c in self.state.cabinets)})"
                    if self.state.cabinets
                    else ""
                )
                + ": создайте его списком кабинетов или командой smart cabinet add",
                "unknown-cabinet",
            )
        has_objects = self.records.installations or self.records.online or self.records.mailboxes
        if not self.all_cabinets and not wanted and has_objects:
            self.plan.new_cabinets[DEFAULT_CABINET] = None

    def _resolve(
        self,
        explicit: str | None,
        explicit_at: Location | None,
        client: str | None,
        manager: str | None,
        at: Location,
    ) -> str | None:
        listed = self.client_cabinet.get(client) if client else None
        if explicit:
            if explicit not in self.all_cabinets:
                self.problems.error(
                    explicit_at or at,
                    f"кабинет «{explicit}» не найден: проверьте название или создайте кабинет списком "
                    "кабинетов",
                    "unknown-cabinet",
                )
                return None
            if listed and listed[0] != explicit:
                self.problems.error(
                    explicit_at or at,
                    f"клиент «{client}» по списку кабинетов относится к «{listed[0]}» "
                    f"({listed[1].describe()}), "
                    f"а здесь указан кабинет «{explicit}»",
                    "client-cabinet-conflict",
                )
                return None
            return explicit
        if listed:
            return listed[0]
        if manager and len(self.manager_cabinets.get(manager, ())) == 1:
            return next(iter(self.manager_cabinets[manager]))
        if self.options.cabinet:
            return self.options.cabinet if self.options.cabinet in self.all_cabinets else None
        if client and client in self.state.clients:
            return self.state.cabinet_names[self.state.clients[client].cabinet_id]
        if len(self.all_cabinets) == 1:
            return self.all_cabinets[0]
        self.problems.error(
            at,
            "не понятно, к какому кабинету относится строка: у дистрибьютора несколько кабинетов — укажите "
            "--cabinet, заполните столбец «Кабинет» или добавьте клиента в список кабинетов",
            "cabinet-ambiguous",
        )
        return None

    # -- managers and clients ---------------------------------------------------------------

    def _manager(self, cabinet: str, ref: ManagerRef) -> None:
        key = (cabinet, ref.name)
        planned = self.plan.managers.get(key)
        if planned is None:
            planned = PlannedManager(cabinet, ref.name, ref.at, self.state.managers.get(key))
            self.plan.managers[key] = planned
        for address in ref.emails:
            if address not in planned.emails:
                planned.emails.append(address)
                planned.email_at[address] = ref.emails_at

    def _client(
        self, short_name: str, cabinet: str, manager: ManagerRef | None, display: str | None, at: Location
    ) -> bool:
        planned = self.plan.clients.get(short_name)
        if planned is None:
            self.plan.clients[short_name] = PlannedClient(
                short_name,
                cabinet,
                at,
                self.state.clients.get(short_name),
                manager.name if manager else None,
                manager.at if manager else None,
                display,
            )
            return True
        if planned.cabinet != cabinet:
            self.problems.error(
                at,
                f"клиент «{short_name}» уже отнесён к кабинету «{planned.cabinet}» "
                f"({planned.at.describe()}), "
                f"а здесь — к «{cabinet}»",
                "client-cabinet-conflict",
            )
            return False
        if manager:
            if planned.manager and planned.manager != manager.name:
                self.problems.error(
                    manager.at,
                    f"у клиента «{short_name}» уже указан менеджер «{planned.manager}» "
                    f"({planned.manager_at.describe() if planned.manager_at else planned.at.describe()}), "
                    f"а здесь — «{manager.name}»: у клиента один ответственный менеджер; разные зоны "
                    "ответственности настраиваются списком почтовых ящиков",
                    "client-manager-conflict",
                )
                return False
            planned.manager, planned.manager_at = manager.name, manager.at
        if display and not planned.display_name:
            planned.display_name = display
        return True

    def _cabinet_list_clients(self) -> None:
        """Clients the cabinets list assigns but no object list names: existing clients that move."""
        for rec in self.records.cabinets:
            if not rec.client or rec.client in self.plan.clients:
                continue
            if self.client_cabinet.get(rec.client, ("",))[0] != rec.cabinet:
                continue  # a conflict already reported
            existing = self.state.clients.get(rec.client)
            if existing is None:
                self.problems.error(
                    rec.client_at,
                    f"клиент «{rec.client}» не найден: сначала добавьте его в список установок или "
                    "онлайн-доступов",
                    "unknown-client",
                )
                continue
            manager = rec.manager
            if manager is None:
                name = self.state.manager_name(existing.manager_id)
                key = (rec.cabinet, name or "")
                if name and (key in self.state.managers or key in self.plan.managers):
                    self._client(rec.client, rec.cabinet, None, None, rec.client_at or rec.at)
                    self.plan.clients[rec.client].manager = name
                    continue
                if name and self.state.cabinet_names[existing.cabinet_id] != rec.cabinet:
                    self.problems.error(
                        rec.client_at,
                        f"клиент «{rec.client}» переходит в кабинет «{rec.cabinet}», а его менеджер "
                        f"«{name}» — "
                        "нет: укажите в этой строке менеджера клиента в новом кабинете",
                        "client-needs-manager",
                    )
                    continue
            self._client(rec.client, rec.cabinet, manager, None, rec.client_at or rec.at)

    def _check_managers(self) -> None:
        for (cabinet, name), planned in self.plan.managers.items():
            if planned.emails or planned.existing is not None:
                continue
            elsewhere = [c for (c, n) in self.state.managers if n == name and c != cabinet]
            hint = (
                f" (менеджер с таким именем есть в кабинете «{elsewhere[0]}», а строка относится к "
                f"«{cabinet}»)"
                if elsewhere
                else ""
            )
            self.problems.error(
                planned.at,
                f"неизвестный менеджер «{name}» в кабинете «{cabinet}»{hint}: укажите его e-mail в "
                "этой строке "
                "или в списке кабинетов",
                "unknown-manager",
            )

    # -- objects ----------------------------------------------------------------------------

    def _installation(self, rec: InstallationRecord) -> None:
        cabinet = self._resolve(rec.cabinet, rec.cabinet_at, rec.client, rec.manager.name, rec.at)
        if cabinet is None:
            return
        self.touched.add(cabinet)
        self._manager(cabinet, rec.manager)
        if not self._client(rec.client, cabinet, rec.manager, rec.display_name, rec.client_at):
            return
        key = str(rec.address) if rec.address is not None else f"closed:{rec.client}"
        seen = self.seen_installations.get(key)
        if seen is not None:
            what = f"адрес {rec.address}" if rec.address else f"клиент «{rec.client}»"
            self.problems.error(
                rec.at, f"повтор: {what} уже указан ({seen.describe()})", "duplicate-installation"
            )
            return
        self.seen_installations[key] = rec.at
        if rec.address is not None:
            existing = self.state.by_address.get(str(rec.address))
        else:
            existing = self.state.closed_by_client.get(rec.client)
        self.plan.installations.append((rec, existing))

    def _online(self, rec: OnlineRecord) -> None:
        cabinet = self._resolve(rec.cabinet, rec.cabinet_at, rec.client, rec.manager.name, rec.at)
        if cabinet is None:
            return
        self.touched.add(cabinet)
        self._manager(cabinet, rec.manager)
        if not self._client(rec.client, cabinet, rec.manager, rec.firm, rec.client_at):
            return
        seen = self.seen_online.get(rec.key)
        if seen is not None:
            self.problems.error(
                rec.at,
                f"повтор: онлайн-доступ {rec.login} на {rec.host}/{rec.catalog} уже указан "
                f"({seen.describe()})",
                "duplicate-online",
            )
            return
        self.seen_online[rec.key] = rec.at
        self.plan.online.append((rec, self.state.online_by_key.get(rec.key)))

    def _mailbox(self, rec: MailboxRecord) -> None:
        cabinet = self._resolve(rec.cabinet, rec.cabinet_at, None, None, rec.at)
        if cabinet is None:
            return
        self.touched.add(cabinet)
        key = (cabinet, rec.address)
        planned = self.plan.mailboxes.get(key)
        if planned is None:
            existing = next(
                (
                    m
                    for m in self.state.mailboxes
                    if self.state.cabinet_names[m.cabinet_id] == cabinet and m.address.lower() == rec.address
                ),
                None,
            )
            self.plan.mailboxes[key] = PlannedMailbox(
                cabinet, rec.address, list(rec.categories), rec.note, rec.at, existing
            )
            return
        # One address may appear in several rows (one per role): its categories add up.
        planned.categories = [c for c in CATEGORY_TITLES if c in {*planned.categories, *rec.categories}]
        planned.note = planned.note or rec.note

    # -- pruning ----------------------------------------------------------------------------

    def _removals(self) -> Removals:
        scope = set(self.touched) | ({self.options.cabinet} if self.options.cabinet else set())
        kinds = self.records.kinds
        names = self.state.cabinet_names
        found = Removals()
        kept_installations = {id(e) for _, e in self.plan.installations if e is not None}
        kept_online = {id(e) for _, e in self.plan.online if e is not None}
        kept_mailboxes = {id(p.existing) for p in self.plan.mailboxes.values() if p.existing is not None}
        for inst in self.state.installations:
            kind: Kind = "closed" if inst.kind == "closed" else "installations"
            if kind in kinds and names[inst.cabinet_id] in scope and id(inst) not in kept_installations:
                found.installations.append(inst)
        if "online" in kinds:
            found.online = [
                o for o in self.state.online if names[o.cabinet_id] in scope and id(o) not in kept_online
            ]
        if "mailboxes" in kinds:
            found.mailboxes = [
                m
                for m in self.state.mailboxes
                if names[m.cabinet_id] in scope and id(m) not in kept_mailboxes
            ]
        if kinds & {"installations", "closed", "online"}:
            gone = {id(x) for x in [*found.installations, *found.online]}
            kept = {i.client_id for i in self.state.installations if id(i) not in gone} | {
                o.client_id for o in self.state.online if id(o) not in gone
            }
            for client in self.state.clients.values():
                in_scope = names[client.cabinet_id] in scope
                if in_scope and client.short_name not in self.plan.clients and client.id not in kept:
                    found.clients.append(client)
        if kinds & {"installations", "closed", "online", "cabinets"}:
            removed_clients = {c.id for c in found.clients}
            still_used = {
                (p.cabinet, p.manager) for p in self.plan.clients.values() if p.manager is not None
            } | {
                (names[c.cabinet_id], self.state.manager_name(c.manager_id))
                for c in self.state.clients.values()
                if c.id not in removed_clients and c.short_name not in self.plan.clients
            }
            for key, manager in self.state.managers.items():
                if key[0] in scope and key not in self.plan.managers and key not in still_used:
                    found.managers.append(manager)
        return found

    # -- checks on the result ---------------------------------------------------------------

    def _check_isolation(self) -> None:
        """Isolated cabinets of one dealer must not share managers' or chiefs' addresses (manual 059)."""
        removed = {id(x) for x in [*self.plan.removals.managers, *self.plan.removals.mailboxes]}
        owners: dict[str, set[str]] = defaultdict(set)
        for key, manager in self.state.managers.items():
            if id(manager) in removed:
                continue
            planned = self.plan.managers.get(key)
            for address in planned.final_emails if planned else manager.emails:
                owners[address.lower()].add(key[0])
        for key, planned in self.plan.managers.items():
            if planned.existing is None:
                for address in planned.final_emails:
                    owners[address].add(key[0])
        for mailbox in self.state.mailboxes:
            if id(mailbox) not in removed:
                owners[mailbox.address.lower()].add(self.state.cabinet_names[mailbox.cabinet_id])
        for (cabinet, address), _ in self.plan.mailboxes.items():
            owners[address].add(cabinet)
        mentioned: dict[str, Location] = {}
        for planned in self.plan.managers.values():
            for address, at in planned.email_at.items():
                mentioned.setdefault(address, at)
        for (_, address), planned_box in self.plan.mailboxes.items():
            mentioned.setdefault(address, planned_box.at.at(None, "E-mail"))
        allowed = {a.lower() for a in self.options.allow_shared_emails}
        for address, at in mentioned.items():
            cabinets = sorted(owners[address])
            if len(cabinets) > 1 and address not in allowed:
                self.problems.error(
                    at,
                    f"адрес {address} оказывается сразу в нескольких кабинетах: "
                    + ", ".join(f"«{c}»" for c in cabinets)
                    + ". Кабинеты изолированы друг от друга: в списках разных филиалов не должно быть общих "
                    "адресов менеджеров и руководителей. Если этот адрес общий намеренно, повторите импорт "
                    f"с --allow-shared-email {address}",
                    "shared-email",
                )

    def _check_stream_size(self) -> None:
        counts: dict[str, int] = defaultdict(int)
        removed = {id(c) for c in self.plan.removals.clients}
        for client in self.state.clients.values():
            if id(client) not in removed and client.short_name not in self.plan.clients:
                counts[self.state.cabinet_names[client.cabinet_id]] += 1
        for planned in self.plan.clients.values():
            counts[planned.cabinet] += 1
        for cabinet in sorted(self.touched):
            if counts[cabinet] > STREAM_LIMIT:
                self.problems.warning(
                    None,
                    f"в кабинете «{cabinet}» будет {counts[cabinet]} {plural(counts[cabinet], *CLIENTS)} — "
                    f"больше {STREAM_LIMIT}. Если среди них потоковый сбыт, рекомендуется выделить его в "
                    "отдельный личный кабинет (по одному на филиал): так менеджерам проще работать, "
                    "а оповещения не теряются в общем потоке",
                    "split-stream",
                )


def _online_key(access: OnlineAccess) -> tuple[str, str, str]:
    return (access.host.lower(), access.catalog, access.login)


# -- the diff -----------------------------------------------------------------------------------


def _yes(value: bool) -> str:
    return "да" if value else "нет"


def _categories(values: list[str]) -> str:
    return ", ".join(CATEGORY_TITLES.get(v, v) for v in values)


class _Differ:
    """Turns a plan into the list of changes shown to the user (secrets masked)."""

    def __init__(self, plan: Plan, box: SecretBox) -> None:
        self.plan = plan
        self.state = plan.state
        self.box = box

    def changes(self) -> list[Change]:
        out: list[Change] = []
        for name, at in self.plan.new_cabinets.items():
            out.append(Change("add", "cabinet", f"кабинет «{name}»", (), at))
        for planned in self.plan.managers.values():
            out.append(self._manager(planned))
        for planned_client in self.plan.clients.values():
            out.append(self._client(planned_client))
        for rec, inst in self.plan.installations:
            out.append(self._installation(rec, inst))
        for access_rec, access in self.plan.online:
            out.append(self._online(access_rec, access))
        for mailbox in self.plan.mailboxes.values():
            out.append(self._mailbox(mailbox))
        out.extend(self._removed())
        return out

    @staticmethod
    def _change(
        title: str, entity: str, exists: bool, fields: list[FieldChange], at: Location | None
    ) -> Change:
        if not exists:
            return Change("add", entity, title, tuple(fields), at)
        changed = tuple(f for f in fields if f.old != f.new or (f.secret and f.new == "changed"))
        return Change("change" if changed else "unchanged", entity, title, changed, at)

    def _manager(self, p: PlannedManager) -> Change:
        title = f"менеджер «{p.name}» (кабинет «{p.cabinet}»)"
        old = p.existing.emails if p.existing else []
        new = p.final_emails
        if p.existing is not None and {e.lower() for e in old} == set(new):
            new = old
        return self._change(
            title,
            "manager",
            p.existing is not None,
            [FieldChange("e-mail", ", ".join(old), ", ".join(new))],
            p.at,
        )

    def _client(self, p: PlannedClient) -> Change:
        title = f"клиент {p.short_name}"
        c = p.existing
        fields = [FieldChange("кабинет", self.state.cabinet_names[c.cabinet_id] if c else "", p.cabinet)]
        old_manager = self.state.manager_name(c.manager_id) if c else None
        moved = c is not None and self.state.cabinet_names[c.cabinet_id] != p.cabinet
        new_manager = p.manager or ("" if moved else old_manager)
        fields.append(FieldChange("менеджер", old_manager or "", new_manager or ""))
        old_display = c.display_name if c else ""
        fields.append(FieldChange("наименование", old_display, p.display_name or old_display or p.short_name))
        return self._change(title, "client", c is not None, fields, p.at)

    def _secret(self, name: str, stored: bytes | None, given: str | None) -> FieldChange | None:
        if given is None:
            return None
        if stored is not None:
            try:
                same = self.box.decrypt(stored) == given
            except SecretKeyError:
                same = False
            if same:
                return FieldChange(name, "", "", secret=True)
        return FieldChange(name, "", "changed", secret=True)

    def _installation(self, rec: InstallationRecord, inst: Installation | None) -> Change:
        if rec.address is not None:
            title = f"установка {rec.address} ({KIND_TITLES_RU[rec.kind]})"
        else:
            title = f"установка клиента {rec.client} ({KIND_TITLES_RU['closed']})"
        names = self.state.client_names
        fields = [
            FieldChange("клиент", names.get(inst.client_id, "") if inst else "", rec.client),
            FieldChange(
                "вид", KIND_TITLES_RU.get(inst.kind, inst.kind) if inst else "", KIND_TITLES_RU[rec.kind]
            ),
        ]
        if rec.address is not None:
            protocol = rec.protocol or (inst.protocol if inst else None) or _default_protocol(rec)
            ping = rec.ping if rec.ping is not None else (inst.ping if inst else True)
            fields.append(FieldChange("протокол", inst.protocol if inst else "", protocol))
            fields.append(FieldChange("пинг", _yes(inst.ping) if inst else "", _yes(ping)))
        tz = rec.tz_minutes if rec.tz_minutes is not None else (inst.tz_offset_minutes if inst else 180)
        fields.append(
            FieldChange("часовой пояс", describe_tz(inst.tz_offset_minutes) if inst else "", describe_tz(tz))
        )
        if rec.test_login is not None:
            fields.append(
                FieldChange("тестовый логин", (inst.test_login or "") if inst else "", rec.test_login)
            )
        secret = self._secret("тестовый пароль", inst.test_password_enc if inst else None, rec.test_password)
        if secret:
            fields.append(secret)
        return self._change(title, "installation", inst is not None, fields, rec.at)

    def _online(self, rec: OnlineRecord, access: OnlineAccess | None) -> Change:
        title = f"онлайн-доступ {rec.login} на {rec.host}/{rec.catalog}"
        names = self.state.client_names
        fields = [
            FieldChange("фирма", access.firm_name if access else "", rec.firm),
            FieldChange("клиент", names.get(access.client_id, "") if access else "", rec.client),
            FieldChange("протокол", access.scheme if access else "", rec.scheme),
        ]
        secret = self._secret("пароль", access.password_enc if access else None, rec.password)
        if secret:
            fields.append(secret)
        return self._change(title, "online", access is not None, fields, rec.at)

    def _mailbox(self, p: PlannedMailbox) -> Change:
        title = f"почтовый ящик {p.address} (кабинет «{p.cabinet}»)"
        m = p.existing
        old_categories = [c for c in CATEGORY_TITLES if m and c in m.categories]
        fields = [
            FieldChange("категории", _categories(old_categories) if m else "", _categories(p.categories)),
            FieldChange("зона ответственности", m.note if m else "", p.note or (m.note if m else "")),
        ]
        return self._change(title, "mailbox", m is not None, fields, p.at)

    def _removed(self) -> list[Change]:
        r = self.plan.removals
        names, cabinets = self.state.client_names, self.state.cabinet_names
        out: list[Change] = []
        for inst in r.installations:
            what = inst.address if inst.kind != "closed" else f"клиента {names[inst.client_id]}"
            out.append(
                Change(
                    "remove", "installation", f"установка {what} ({KIND_TITLES_RU.get(inst.kind, inst.kind)})"
                )
            )
        for access in r.online:
            out.append(
                Change("remove", "online", f"онлайн-доступ {access.login} на {access.host}/{access.catalog}")
            )
        for mailbox in r.mailboxes:
            out.append(
                Change(
                    "remove",
                    "mailbox",
                    f"почтовый ящик {mailbox.address} (кабинет «{cabinets[mailbox.cabinet_id]}»)",
                )
            )
        for client in r.clients:
            out.append(Change("remove", "client", f"клиент {client.short_name}"))
        for manager in r.managers:
            out.append(
                Change(
                    "remove",
                    "manager",
                    f"менеджер «{manager.name}» (кабинет «{cabinets[manager.cabinet_id]}»)",
                )
            )
        return out


def _default_protocol(rec: InstallationRecord) -> str:
    return "https" if rec.address is not None and rec.address.port == 443 else "http"
