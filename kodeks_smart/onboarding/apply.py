"""Write a plan into the session it was planned in: everything or, on any error, nothing.

The caller owns the transaction (`service.run_import`); this module only adds, changes and deletes
rows, flushing between the steps so that foreign keys are satisfied in order. Passwords are
encrypted here, the moment they reach the database.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from kodeks_smart.lib.secrets import SecretBox, SecretKeyError
from kodeks_smart.onboarding.plan import Plan
from kodeks_smart.onboarding.records import InstallationRecord, OnlineRecord
from kodeks_smart.store import admin
from kodeks_smart.store.models import Cabinet, Client, Installation, Manager, OnlineAccess

DEFAULT_TZ_MINUTES = 180  # Moscow


def apply_plan(session: Session, box: SecretBox, plan: Plan) -> None:
    _Applier(session, box, plan).run()


class _Applier:
    def __init__(self, session: Session, box: SecretBox, plan: Plan) -> None:
        self.session = session
        self.box = box
        self.plan = plan
        self.state = plan.state
        self.cabinets: dict[str, Cabinet] = dict(self.state.cabinets)
        self.managers: dict[tuple[str, str], Manager] = dict(self.state.managers)
        self.clients: dict[str, Client] = dict(self.state.clients)

    def run(self) -> None:
        # 1. cabinets, managers, clients: the rows everything else points to
        for name in self.plan.new_cabinets:
            cabinet = Cabinet(dealer_id=self.state.dealer.id, name=name)
            self.session.add(cabinet)
            self.cabinets[name] = cabinet
        self.session.flush()
        self._managers()
        self._clients()
        # 2. the monitored objects and mailboxes
        for rec, inst in self.plan.installations:
            self._installation(rec, inst)
        for access_rec, access in self.plan.online:
            self._online(access_rec, access)
        self._mailboxes()
        self.session.flush()
        # 3. --prune: objects first, then what was left without them
        removals = self.plan.removals
        for row in [*removals.installations, *removals.online, *removals.mailboxes]:
            self.session.delete(row)
        self.session.flush()
        for client in removals.clients:
            self.session.delete(client)
        self.session.flush()
        for manager in removals.managers:
            self.session.delete(manager)
        self.session.flush()

    def _managers(self) -> None:
        for key, planned in self.plan.managers.items():
            if planned.existing is not None:
                current = {e.lower() for e in planned.existing.emails}
                if planned.emails and current != set(planned.emails):
                    planned.existing.emails = list(planned.emails)
            else:
                self.managers[key] = admin.add_manager(
                    self.session, self.cabinets[planned.cabinet], planned.name, list(planned.emails)
                )
        self.session.flush()

    def _clients(self) -> None:
        for name, planned in self.plan.clients.items():
            cabinet = self.cabinets[planned.cabinet]
            manager = self.managers.get((planned.cabinet, planned.manager)) if planned.manager else None
            client = planned.existing
            if client is None:
                self.clients[name] = admin.add_client(
                    self.session, cabinet, name, planned.display_name or "", manager
                )
                continue
            if client.cabinet_id != cabinet.id:
                # A client changes cabinet with all his objects; his old manager stays behind.
                client.cabinet_id = cabinet.id
                client.manager_id = None
                for inst in self.state.installations:
                    if inst.client_id == client.id:
                        inst.cabinet_id = cabinet.id
                for access in self.state.online:
                    if access.client_id == client.id:
                        access.cabinet_id = cabinet.id
            if manager is not None and client.manager_id != manager.id:
                client.manager_id = manager.id
            if planned.display_name and client.display_name != planned.display_name:
                client.display_name = planned.display_name
        self.session.flush()

    def _same_secret(self, stored: bytes | None, given: str) -> bool:
        if stored is None:
            return False
        try:
            return self.box.decrypt(stored) == given
        except SecretKeyError:
            return False

    def _installation(self, rec: InstallationRecord, inst: Installation | None) -> None:
        client = self.clients[rec.client]
        address = str(rec.address) if rec.address is not None else None
        if inst is None:
            admin.add_installation(
                self.session,
                self.box,
                client,
                rec.kind,
                address,
                protocol=rec.protocol or ("https" if rec.address and rec.address.port == 443 else "http"),
                ping=rec.ping if rec.ping is not None else rec.kind != "closed",
                tz_offset_minutes=rec.tz_minutes if rec.tz_minutes is not None else DEFAULT_TZ_MINUTES,
                test_login=rec.test_login,
                test_password=rec.test_password,
            )
            return
        inst.client_id = client.id
        inst.cabinet_id = client.cabinet_id
        inst.kind = rec.kind
        inst.address = address
        if rec.protocol is not None:
            inst.protocol = rec.protocol
        if rec.ping is not None:
            inst.ping = rec.ping
        if rec.tz_minutes is not None:
            inst.tz_offset_minutes = rec.tz_minutes
        if rec.test_login is not None:
            inst.test_login = rec.test_login
        if rec.test_password is not None and not self._same_secret(inst.test_password_enc, rec.test_password):
            inst.test_password_enc = self.box.encrypt(rec.test_password)

    def _online(self, rec: OnlineRecord, access: OnlineAccess | None) -> None:
        client = self.clients[rec.client]
        if access is None:
            admin.add_online_access(
                self.session,
                self.box,
                client,
                host=rec.host,
                catalog=rec.catalog,
                login=rec.login,
                password=rec.password,
                firm_name=rec.firm,
                scheme=rec.scheme,
            )
            return
        access.client_id = client.id
        access.cabinet_id = client.cabinet_id
        access.firm_name = rec.firm
        access.scheme = rec.scheme
        access.host = rec.host
        if not self._same_secret(access.password_enc, rec.password):
            access.password_enc = self.box.encrypt(rec.password)

    def _mailboxes(self) -> None:
        for planned in self.plan.mailboxes.values():
            mailbox = planned.existing
            if mailbox is None:
                admin.add_mailbox(
                    self.session,
                    self.cabinets[planned.cabinet],
                    planned.address,
                    planned.categories,
                    planned.note,
                )
                continue
            if sorted(mailbox.categories) != sorted(planned.categories):
                mailbox.categories = list(planned.categories)
            if planned.note and mailbox.note != planned.note:
                mailbox.note = planned.note
