"""Administrative operations on dealers, cabinets, accounts and monitored objects.

Used by the CLI, the admin API and the importer. Each function validates its input and raises
`AdminError` with a Russian message that can be shown to the user as is.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kodeks_smart.lib.secrets import (
    PasswordHashing,
    SecretBox,
    hash_token,
    new_password,
    new_upload_token,
)
from kodeks_smart.store.models import (
    CATEGORIES,
    DEALER_CODE_PATTERN,
    INSTALLATION_KINDS,
    ROLES,
    Account,
    AccountCabinet,
    Cabinet,
    Client,
    Dealer,
    Installation,
    Mailbox,
    Manager,
    OnlineAccess,
    TelegramChat,
)
from kodeks_smart.store.types import utcnow

CLIENT_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
LOGIN_PATTERN = re.compile(r"^[A-Za-z0-9_.@-]{3,100}$")
INITIAL_ADMIN_LOGIN = "admin"


class AdminError(ValueError):
    """Bad input for an administrative operation; the message is Russian and user-facing."""


def find_dealer(session: Session, code: str) -> Dealer:
    dealer = session.scalars(select(Dealer).where(Dealer.code == code)).first()
    if dealer is None:
        raise AdminError(f"Дистрибьютор с кодом {code!r} не найден")
    return dealer


def find_cabinet(session: Session, dealer: Dealer, name: str) -> Cabinet:
    cabinet = session.scalars(
        select(Cabinet).where(Cabinet.dealer_id == dealer.id, Cabinet.name == name)
    ).first()
    if cabinet is None:
        raise AdminError(f"Кабинет {name!r} дистрибьютора {dealer.code} не найден")
    return cabinet


def add_dealer(session: Session, code: str, name: str) -> tuple[Dealer, str]:
    """Register a dealer; returns the dealer and its upload token (shown once, stored as a hash)."""
    if not re.fullmatch(DEALER_CODE_PATTERN, code):
        raise AdminError(
            f"Недопустимый код дистрибьютора {code!r}: нужны 3–40 латинских букв, цифр, «_» или «-»"
            " (например, 0599ROGAIKOPITA)"
        )
    if not name.strip():
        raise AdminError("Название дистрибьютора не может быть пустым")
    if session.scalars(select(Dealer).where(Dealer.code == code)).first() is not None:
        raise AdminError(f"Дистрибьютор с кодом {code!r} уже зарегистрирован")
    token = new_upload_token()
    dealer = Dealer(code=code, name=name.strip(), token_hash=hash_token(token))
    session.add(dealer)
    session.flush()
    return dealer, token


def rotate_token(session: Session, code: str) -> str:
    dealer = find_dealer(session, code)
    token = new_upload_token()
    dealer.token_hash = hash_token(token)
    dealer.token_created_at = utcnow()
    return token


def add_cabinet(session: Session, dealer_code: str, name: str) -> Cabinet:
    dealer = find_dealer(session, dealer_code)
    name = name.strip()
    if not name or len(name) > 100:
        raise AdminError("Название кабинета должно содержать от 1 до 100 символов")
    exists = session.scalars(
        select(Cabinet).where(Cabinet.dealer_id == dealer.id, Cabinet.name == name)
    ).first()
    if exists is not None:
        raise AdminError(f"Кабинет {name!r} у дистрибьютора {dealer_code} уже есть")
    cabinet = Cabinet(dealer_id=dealer.id, name=name)
    session.add(cabinet)
    session.flush()
    return cabinet


def add_account(
    session: Session,
    hashing: PasswordHashing,
    login: str,
    password: str,
    role: str,
    dealer_code: str | None = None,
    cabinet_names: list[str] | None = None,
) -> Account:
    """Create an account. A cabinet user must be granted at least one cabinet of his dealer."""
    if not LOGIN_PATTERN.fullmatch(login):
        raise AdminError("Логин: 3–100 символов, латинские буквы, цифры и «_ . @ -»")
    if role not in ROLES:
        raise AdminError(f"Роль должна быть одной из: {', '.join(ROLES)}")
    if len(password) < 8:
        raise AdminError("Пароль должен быть не короче 8 символов")
    if session.scalars(select(Account).where(Account.login == login)).first() is not None:
        raise AdminError(f"Пользователь {login!r} уже существует")
    dealer: Dealer | None = None
    if role != "operator":
        if not dealer_code:
            raise AdminError("Для этой роли нужно указать дистрибьютора (--dealer)")
        dealer = find_dealer(session, dealer_code)
    cabinets = [find_cabinet(session, dealer, n) for n in cabinet_names or []] if dealer else []
    if role == "cabinet" and not cabinets:
        raise AdminError("Пользователю кабинета нужно выдать хотя бы один кабинет (--cabinet)")
    account = Account(
        login=login,
        password_hash=hashing.hash(password),
        role=role,
        dealer_id=dealer.id if dealer else None,
    )
    session.add(account)
    session.flush()
    for cabinet in cabinets:
        session.add(AccountCabinet(account_id=account.id, cabinet_id=cabinet.id))
    session.flush()
    return account


def authenticate(session: Session, hashing: PasswordHashing, login: str, password: str) -> Account | None:
    account = session.scalars(select(Account).where(Account.login == login)).first()
    if account is None or account.disabled:
        # Spend the same time as a real check so that login names cannot be probed by timing.
        hashing.verify(_DUMMY_HASH.get(hashing), password)
        return None
    if not hashing.verify(account.password_hash, password):
        return None
    if hashing.needs_rehash(account.password_hash):
        account.password_hash = hashing.hash(password)
    account.last_login_at = utcnow()
    return account


class _DummyHash:
    def __init__(self) -> None:
        self._by_hasher: dict[int, str] = {}

    def get(self, hashing: PasswordHashing) -> str:
        key = id(hashing)
        if key not in self._by_hasher:
            self._by_hasher[key] = hashing.hash(new_password())
        return self._by_hasher[key]


_DUMMY_HASH = _DummyHash()


@dataclass(frozen=True)
class InitialAdmin:
    login: str
    password: str
    password_file: Path


def ensure_initial_admin(session: Session, hashing: PasswordHashing, data_dir: Path) -> InitialAdmin | None:
    """On the very first start (no operator yet) create one; returns its password once, else None."""
    if session.scalar(select(func.count()).select_from(Account).where(Account.role == "operator")):
        return None
    password = new_password()
    add_account(session, hashing, INITIAL_ADMIN_LOGIN, password, "operator")
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "initial-admin-password"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(f"{INITIAL_ADMIN_LOGIN}\n{password}\n")
    os.chmod(path, 0o600)
    return InitialAdmin(INITIAL_ADMIN_LOGIN, password, path)


# -- monitored objects (minimal constructors; the importer builds on them) --------------------


def add_manager(session: Session, cabinet: Cabinet, name: str, emails: list[str]) -> Manager:
    manager = Manager(dealer_id=cabinet.dealer_id, cabinet_id=cabinet.id, name=name, emails=emails)
    session.add(manager)
    session.flush()
    return manager


def add_client(
    session: Session,
    cabinet: Cabinet,
    short_name: str,
    display_name: str = "",
    manager: Manager | None = None,
) -> Client:
    if not CLIENT_NAME_PATTERN.fullmatch(short_name):
        raise AdminError(
            f"Недопустимое краткое имя клиента {short_name!r}: латинские буквы, цифры и «_ - .»,"
            " до 64 символов"
        )
    if manager is not None and manager.cabinet_id != cabinet.id:
        raise AdminError("Менеджер принадлежит другому кабинету")
    client = Client(
        dealer_id=cabinet.dealer_id,
        cabinet_id=cabinet.id,
        short_name=short_name,
        display_name=display_name or short_name,
        manager_id=manager.id if manager else None,
    )
    session.add(client)
    session.flush()
    return client


def add_installation(
    session: Session,
    box: SecretBox,
    client: Client,
    kind: str,
    address: str | None = None,
    *,
    protocol: str = "http",
    ping: bool = True,
    tz_offset_minutes: int = 180,
    test_login: str | None = None,
    test_password: str | None = None,
    licman_host: str | None = None,
    licman_port: int | None = None,
) -> Installation:
    if kind not in INSTALLATION_KINDS:
        raise AdminError(f"Тип инсталляции должен быть одним из: {', '.join(INSTALLATION_KINDS)}")
    if kind != "closed" and not address:
        raise AdminError("Для инсталляции, доступной из интернета, нужен адрес")
    inst = Installation(
        dealer_id=client.dealer_id,
        cabinet_id=client.cabinet_id,
        client_id=client.id,
        kind=kind,
        address=address,
        protocol=protocol,
        ping=ping,
        tz_offset_minutes=tz_offset_minutes,
        test_login=test_login,
        test_password_enc=box.encrypt(test_password) if test_password else None,
        licman_host=licman_host,
        licman_port=licman_port,
    )
    session.add(inst)
    session.flush()
    return inst


def add_online_access(
    session: Session,
    box: SecretBox,
    client: Client,
    *,
    host: str,
    catalog: str,
    login: str,
    password: str,
    firm_name: str = "",
    scheme: str = "https",
) -> OnlineAccess:
    if not password:
        raise AdminError("Для онлайн-доступа нужен пароль")
    access = OnlineAccess(
        dealer_id=client.dealer_id,
        cabinet_id=client.cabinet_id,
        client_id=client.id,
        firm_name=firm_name or client.display_name,
        scheme=scheme,
        host=host,
        catalog=catalog,
        login=login,
        password_enc=box.encrypt(password),
    )
    session.add(access)
    session.flush()
    return access


def _check_categories(categories: list[str]) -> None:
    unknown = sorted(set(categories) - set(CATEGORIES))
    if unknown:
        raise AdminError(
            f"Неизвестные категории оповещений: {', '.join(unknown)}; допустимы: {', '.join(CATEGORIES)}"
        )


def add_mailbox(
    session: Session, cabinet: Cabinet, address: str, categories: list[str], note: str = ""
) -> Mailbox:
    _check_categories(categories)
    mailbox = Mailbox(
        dealer_id=cabinet.dealer_id, cabinet_id=cabinet.id, address=address, categories=categories, note=note
    )
    session.add(mailbox)
    session.flush()
    return mailbox


def add_telegram_chat(
    session: Session,
    box: SecretBox,
    cabinet: Cabinet,
    chat_id: str,
    bot_token: str,
    categories: list[str],
    title: str = "",
) -> TelegramChat:
    _check_categories(categories)
    chat = TelegramChat(
        dealer_id=cabinet.dealer_id,
        cabinet_id=cabinet.id,
        chat_id=chat_id,
        title=title,
        bot_token_enc=box.encrypt(bot_token),
        categories=categories,
    )
    session.add(chat)
    session.flush()
    return chat
