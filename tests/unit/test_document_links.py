"""The links the chatbot sends for a debtor's files: one document of one debtor, signed,
expiring, and never a key to anything else."""

from __future__ import annotations

import datetime as dt

import pytest

from service_runtime.document_links import DocumentRef, InvalidLink, read_link, sign_link
from services.gateway.adapters.tokens import InvalidToken, decode_token, issue_token

KEY = "uma-chave-de-teste-com-tamanho-suficiente"
NOW = dt.datetime.now(dt.UTC)
TERM = DocumentRef(tenant="acme", document="52998224725", kind="term", agreement_id="a-1")


def test_a_link_names_exactly_its_document() -> None:
    assert read_link(KEY, sign_link(KEY, TERM, NOW)) == TERM
    boleto = DocumentRef("acme", "52998224725", "boleto", agreement_id="a-1", invoice_id="i-2")
    assert read_link(KEY, sign_link(KEY, boleto, NOW)) == boleto


def test_expired_tampered_or_foreign_links_are_refused() -> None:
    expired = sign_link(KEY, TERM, NOW - dt.timedelta(days=8))
    with pytest.raises(InvalidLink, match="expirado"):
        read_link(KEY, expired)
    token = sign_link(KEY, TERM, NOW)
    with pytest.raises(InvalidLink):
        read_link(KEY, token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB"))
    with pytest.raises(InvalidLink):
        read_link("outra-chave-de-outra-instalacao-qualquer", token)
    # A boleto link must say which invoice; a term link which agreement.
    with pytest.raises(InvalidLink):
        read_link(KEY, sign_link(KEY, DocumentRef("acme", "1", "boleto", agreement_id="a"), NOW))
    with pytest.raises(InvalidLink):
        read_link(KEY, sign_link(KEY, DocumentRef("acme", "1", "term"), NOW))


def test_a_link_is_not_a_bearer_token_and_a_token_is_not_a_link() -> None:
    link = sign_link(KEY, TERM, NOW)
    with pytest.raises(InvalidToken):
        decode_token(KEY, link)
    token = issue_token(KEY, tenant="acme", role="admin")
    with pytest.raises(InvalidLink):
        read_link(KEY, token)
