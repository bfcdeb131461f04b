"""A debtor's personal data sealed under the debtor's key, and erased with it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.personal import SealedPersonalData
from service_runtime.database import sqlite_engine
from service_runtime.personal_data import (
    REMOVED,
    SqlKeyVault,
    seal,
    unseal,
    unseal_or_removed,
)

AT = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def vault(tmp_path: Path) -> SqlKeyVault:
    return SqlKeyVault(sqlite_engine(str(tmp_path / "keys.sqlite")))


def test_a_debtor_keeps_one_key_per_tenant(vault: SqlKeyVault) -> None:
    first = vault.key_for("acme", "52998224725")
    assert vault.key_for("acme", "52998224725") == first
    assert vault.key_for("other", "52998224725") != first
    assert len(first.secret) == 32


def test_keys_of_a_batch_come_in_one_call_and_match_single_lookups(vault: SqlKeyVault) -> None:
    documents = [f"{n:011d}" for n in range(1200)]
    batch = vault.keys_for("acme", documents)
    assert set(batch) == set(documents)
    assert vault.key_for("acme", documents[700]) == batch[documents[700]]


def test_two_processes_creating_the_same_debtors_key_agree(tmp_path: Path) -> None:
    path = str(tmp_path / "keys.sqlite")
    one, two = SqlKeyVault(sqlite_engine(path)), SqlKeyVault(sqlite_engine(path))
    key = one.key_for("acme", "52998224725")
    assert two.key_for("acme", "52998224725") == key


@settings(max_examples=40, deadline=None)
@given(
    fields=st.dictionaries(
        st.sampled_from(["name", "email", "phone", "city", "state", "text"]),
        st.one_of(st.none(), st.text(max_size=200)),
    )
)
def test_sealed_fields_open_to_what_was_sealed(tmp_path_factory, fields) -> None:  # type: ignore[no-untyped-def]
    vault = SqlKeyVault(sqlite_engine(str(tmp_path_factory.mktemp("v") / "keys.sqlite")))
    sealed = seal(vault.key_for("acme", "52998224725"), fields)
    assert unseal(SealedPersonalData.model_validate_json(sealed.model_dump_json()), vault) == fields


def test_sealed_data_shows_nothing_in_clear(vault: SqlKeyVault) -> None:
    sealed = seal(vault.key_for("acme", "52998224725"), {"name": "Maria da Silva"})
    assert "Maria" not in sealed.model_dump_json()


def test_after_the_erasure_nothing_opens_even_in_another_process(tmp_path: Path) -> None:
    path = str(tmp_path / "keys.sqlite")
    service, replayer = SqlKeyVault(sqlite_engine(path)), SqlKeyVault(sqlite_engine(path))
    sealed = seal(service.key_for("acme", "52998224725"), {"name": "Maria da Silva"})
    assert unseal(sealed, replayer) == {"name": "Maria da Silva"}

    erased = service.erase("acme", "52998224725", by="admin@acme", at=AT)

    assert erased == [sealed.key_id]
    assert unseal(sealed, service) is None
    replayer.forget(erased)  # what PersonalDataErased does in every other process
    assert unseal(sealed, replayer) is None
    assert unseal(sealed, SqlKeyVault(sqlite_engine(path))) is None
    assert unseal_or_removed(sealed, replayer, ["name", "email"]) == {
        "name": REMOVED,
        "email": REMOVED,
    }


def test_an_erasure_is_repeatable_and_new_data_gets_a_new_key(vault: SqlKeyVault) -> None:
    old = vault.key_for("acme", "52998224725")
    assert vault.erase("acme", "52998224725", by="a", at=AT) == [old.key_id]
    assert vault.erase("acme", "52998224725", by="a", at=AT) == [old.key_id]
    new = vault.key_for("acme", "52998224725")
    assert new.key_id != old.key_id
    assert vault.secret(old.key_id) is None
    assert vault.secret(new.key_id) == new.secret


def test_a_debtor_without_keys_erases_nothing(vault: SqlKeyVault) -> None:
    assert vault.erase("acme", "11144477735", by="a", at=AT) == []


def test_tampered_ciphertext_is_refused(vault: SqlKeyVault) -> None:
    sealed = seal(vault.key_for("acme", "52998224725"), {"name": "Maria"})
    other = vault.key_for("acme", "11144477735")
    moved = SealedPersonalData(key_id=other.key_id, ciphertext=sealed.ciphertext)
    with pytest.raises(ValueError, match="does not open"):
        unseal(moved, vault)


def test_nothing_sealed_reads_as_nothing(vault: SqlKeyVault) -> None:
    assert unseal_or_removed(None, vault, ["name"]) == {"name": None}


def test_every_process_forgets_an_erased_key_when_the_erasure_is_published(
    tmp_path: Path,
) -> None:
    import uuid

    from faststream.kafka import KafkaBroker

    from contracts.personal import PersonalDataErased
    from service_runtime.erasure_follower import ErasureFollower

    path = str(tmp_path / "keys.sqlite")
    gateway, other = SqlKeyVault(sqlite_engine(path)), SqlKeyVault(sqlite_engine(path))
    sealed = seal(other.key_for("acme", "52998224725"), {"name": "Maria"})
    assert unseal(sealed, other) == {"name": "Maria"}  # now cached in `other`
    key_ids = gateway.erase("acme", "52998224725", by="admin@acme", at=AT)
    erased = PersonalDataErased(
        event_id=uuid.uuid4(),
        occurred_at=AT,
        tenant="acme",
        aggregate_id="erasure-1",
        aggregate_version=1,
        correlation_id="c",
        causation_id="c",
        document="52998224725",
        key_ids=key_ids,
        requested_by="admin@acme",
        reason="pedido do titular",
    )
    follower = ErasureFollower(other, KafkaBroker("127.0.0.1:1"), {})

    follower.apply(erased.model_dump_json().encode(), b"not an event")

    assert follower.forgotten == 1
    assert unseal(sealed, other) is None


def test_a_batch_of_keys_preloaded_opens_without_asking_the_vault_again(tmp_path: Path) -> None:
    from sqlalchemy import event

    path = str(tmp_path / "keys.sqlite")
    portfolio, consumer = SqlKeyVault(sqlite_engine(path)), SqlKeyVault(sqlite_engine(path))
    keys = portfolio.keys_for("acme", ["52998224725", "11144477735", "39053344705"])
    sealed = [seal(key, {"name": f"Devedor {n}"}) for n, key in enumerate(keys.values())]
    portfolio.erase("acme", "39053344705", by="admin@acme", at=AT)
    queries: list[str] = []
    event.listen(consumer.engine, "before_cursor_execute", lambda *a: queries.append(a[2]))

    consumer.preload([s.key_id for s in sealed] + ["never-issued"])

    assert len(queries) == 1
    opened = [unseal(s, consumer) for s in sealed]
    assert opened[:2] == [{"name": "Devedor 0"}, {"name": "Devedor 1"}]
    assert opened[2] is None  # erased before the batch: preloaded as gone
    assert consumer.secret("never-issued") is None
    assert len(queries) == 1
