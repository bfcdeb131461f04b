"""Made-up carteiras that look like the ones creditors send: for the demo and the benchmark.

Deterministic for a seed, so a demo run and a benchmark can be repeated exactly. Names, cities
and area codes are plausible Brazilian ones; documents are valid unless a row is made invalid
on purpose, so that an import shows both imported and rejected rows. People (CPFs) have a date
of birth, an adult's, for the portal's second factor; companies leave the column empty.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
import os
import random
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from contracts.documents import format_document, generate_cnpj, generate_cpf

__all__ = [
    "DEFAULT_CREDITORS",
    "HEADER",
    "generate_carteira",
    "generate_debtors",
    "write_carteira",
]

HEADER: tuple[str, ...] = (
    "documento",
    "nome",
    "credor",
    "contrato",
    "parcela",
    "valor_original",
    "vencimento",
    "email",
    "telefone",
    "cidade",
    "uf",
    "categoria",
    "data_nascimento",
)

DEFAULT_CREDITORS: tuple[str, ...] = (
    "Banco Horizonte S.A.",
    "Varejo Bom Preço Ltda",
    "Conecta Fibra Telecom",
)

# fmt: off
_FEMALE_NAMES = (
    "Maria", "Ana", "Francisca", "Antônia", "Adriana", "Juliana", "Márcia", "Fernanda",
    "Patrícia", "Aline", "Sandra", "Camila", "Amanda", "Bruna", "Jéssica", "Letícia", "Júlia",
    "Luciana", "Vanessa", "Mariana", "Gabriela", "Vitória", "Larissa", "Cláudia", "Beatriz",
    "Luana", "Rita", "Sônia", "Conceição", "Tereza", "Raquel", "Simone", "Débora", "Cristina",
    "Lúcia", "Kátia", "Cícera", "Isabela", "Heloísa", "Iara", "Josefa", "Regina",
)
_MALE_NAMES = (
    "José", "João", "Antônio", "Francisco", "Carlos", "Paulo", "Pedro", "Lucas", "Luiz",
    "Marcos", "Luís", "Gabriel", "Rafael", "Daniel", "Marcelo", "Bruno", "Eduardo", "Felipe",
    "Raimundo", "Rodrigo", "Manoel", "Mateus", "André", "Fernando", "Fábio", "Leonardo",
    "Gustavo", "Guilherme", "Sebastião", "Joaquim", "Thiago", "Diego", "Rogério", "Severino",
    "Wesley", "Edson", "Vinícius", "Caio", "Otávio", "Cauã", "Davi", "Benedito",
)
_FEMALE_MIDDLE = ("Aparecida", "Cristina", "Luiza", "Helena", "de Fátima", "das Graças", "Clara")
_MALE_MIDDLE = ("Eduardo", "Henrique", "Augusto", "Roberto", "Carlos", "Vitor", "José", "Paulo")
_PLAIN_SURNAMES = (
    "Silva", "Santos", "Oliveira", "Souza", "Rodrigues", "Ferreira", "Alves", "Pereira", "Lima",
    "Gomes", "Costa", "Ribeiro", "Martins", "Carvalho", "Almeida", "Lopes", "Soares",
    "Fernandes", "Vieira", "Barbosa", "Rocha", "Dias", "Nascimento", "Andrade", "Moreira",
    "Nunes", "Marques", "Machado", "Mendes", "Freitas", "Cardoso", "Ramos", "Gonçalves",
    "Santana", "Teixeira", "Araújo", "Monteiro", "Correia", "Cavalcanti", "Conceição",
    "Magalhães", "Brandão", "Batista", "Sampaio", "Figueiredo", "Damasceno", "Falcão", "Guimarães",
)
_SURNAMES = (*_PLAIN_SURNAMES,
    "da Silva", "dos Santos", "de Oliveira", "de Souza", "da Costa", "de Almeida", "da Conceição",
    "do Nascimento", "dos Reis", "de Jesus", "de Lima", "da Rocha",
)
_PARTICLES = frozenset(("da", "das", "de", "do", "dos"))
_ACTIVITIES = (
    "Comércio de Alimentos", "Materiais de Construção", "Transportes", "Serviços Médicos",
    "Auto Peças", "Confecções", "Informática", "Construtora", "Padaria e Confeitaria",
    "Farmácia", "Distribuidora de Bebidas", "Papelaria", "Restaurante", "Açougue e Mercearia",
    "Serviços de Limpeza", "Ótica", "Calçados",
)
_FANTASY = (
    "Bom Jesus", "Estrela do Norte", "Pão Dourado", "Nova Era", "São Jorge", "Boa Vista",
    "Ponto Certo", "Sol Nascente", "Três Irmãos", "Vale Verde", "Primavera", "Central",
)
_COMPANY_SUFFIXES = ("Ltda", "Ltda", "Ltda", "ME", "EPP", "S.A.")
_EMAIL_DOMAINS = (
    "gmail.com", "gmail.com", "gmail.com", "hotmail.com", "outlook.com", "yahoo.com.br",
    "uol.com.br", "bol.com.br", "terra.com.br",
)
# (city, UF, area code) and a weight ~ population in 100k, so big cities show up more.
_CITIES_WEIGHTED: tuple[tuple[str, str, str, int], ...] = (
    ("São Paulo", "SP", "11", 115), ("Guarulhos", "SP", "11", 13), ("Campinas", "SP", "19", 11),
    ("Santos", "SP", "13", 4), ("Ribeirão Preto", "SP", "16", 7), ("Sorocaba", "SP", "15", 7),
    ("São José dos Campos", "SP", "12", 7), ("Rio de Janeiro", "RJ", "21", 62),
    ("Niterói", "RJ", "21", 5), ("Duque de Caxias", "RJ", "21", 8),
    ("Belo Horizonte", "MG", "31", 23), ("Uberlândia", "MG", "34", 7),
    ("Juiz de Fora", "MG", "32", 5), ("Contagem", "MG", "31", 6), ("Vitória", "ES", "27", 3),
    ("Vila Velha", "ES", "27", 5), ("Curitiba", "PR", "41", 18), ("Londrina", "PR", "43", 5),
    ("Maringá", "PR", "44", 4), ("Florianópolis", "SC", "48", 5), ("Joinville", "SC", "47", 6),
    ("Porto Alegre", "RS", "51", 13), ("Caxias do Sul", "RS", "54", 5),
    ("Santa Maria", "RS", "55", 3), ("Salvador", "BA", "71", 24),
    ("Feira de Santana", "BA", "75", 6), ("Vitória da Conquista", "BA", "77", 3),
    ("Recife", "PE", "81", 15), ("Jaboatão dos Guararapes", "PE", "81", 6),
    ("Caruaru", "PE", "81", 4), ("Fortaleza", "CE", "85", 24),
    ("Juazeiro do Norte", "CE", "88", 3), ("São Luís", "MA", "98", 10),
    ("Imperatriz", "MA", "99", 3), ("Teresina", "PI", "86", 9), ("Natal", "RN", "84", 8),
    ("Mossoró", "RN", "84", 3), ("João Pessoa", "PB", "83", 8),
    ("Campina Grande", "PB", "83", 4), ("Maceió", "AL", "82", 10), ("Aracaju", "SE", "79", 6),
    ("Belém", "PA", "91", 13), ("Santarém", "PA", "93", 3), ("Manaus", "AM", "92", 21),
    ("Macapá", "AP", "96", 4), ("Boa Vista", "RR", "95", 4), ("Porto Velho", "RO", "69", 5),
    ("Rio Branco", "AC", "68", 4), ("Palmas", "TO", "63", 3), ("Goiânia", "GO", "62", 14),
    ("Anápolis", "GO", "62", 4), ("Aparecida de Goiânia", "GO", "62", 5),
    ("Brasília", "DF", "61", 28), ("Cuiabá", "MT", "65", 6), ("Várzea Grande", "MT", "65", 3),
    ("Campo Grande", "MS", "67", 9), ("Dourados", "MS", "67", 2),
)
# fmt: on
_CITIES = tuple((city, uf, area) for city, uf, area, _ in _CITIES_WEIGHTED)
_CITY_CUM_WEIGHTS = tuple(itertools.accumulate(w for *_, w in _CITIES_WEIGHTED))

# Categories by kind of creditor; a custom creditor list reuses them in turn.
_CATEGORIES: tuple[tuple[str, ...], ...] = (
    ("cartão de crédito", "empréstimo pessoal", "cheque especial", "financiamento de veículo"),
    ("crediário", "cartão da loja", "carnê"),
    ("telefonia móvel", "internet banda larga", "TV por assinatura"),
)
_COMPANY_CATEGORIES = ("capital de giro", "cartão de crédito empresarial", "duplicata")

_GARBLED_DATES = ("31/02/2024", "15/13/2023", "ontem", "00/00/0000", "2023-02-30", "45291")
_DEFECTS = (
    "check_digit",
    "zero_amount",
    "negative_amount",
    "future_due_date",
    "missing_creditor",
    "garbled_date",
)


@dataclass(frozen=True, slots=True)
class _Debtor:
    document: str  # as written in the file: formatted or bare
    name: str
    email: str
    phone: str
    city: str
    state: str
    is_company: bool


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(c for c in ascii_text.lower() if c.isalnum())


def _person_name(rng: random.Random) -> str:
    female = rng.random() < 0.5
    parts = [rng.choice(_FEMALE_NAMES if female else _MALE_NAMES)]
    if rng.random() < 0.4:
        parts.append(rng.choice(_FEMALE_MIDDLE if female else _MALE_MIDDLE))
    surnames = rng.sample(_SURNAMES, rng.choice((1, 2, 2)))
    return " ".join(parts + surnames)


def _company_name(rng: random.Random) -> str:
    activity = rng.choice(_ACTIVITIES)
    suffix = rng.choice(_COMPANY_SUFFIXES)
    pattern = rng.randrange(3)
    if pattern == 0:
        return f"{rng.choice(_PLAIN_SURNAMES)} {activity} {suffix}"
    if pattern == 1:
        return f"{activity} {rng.choice(_FANTASY)} {suffix}"
    return f"{rng.choice(_PLAIN_SURNAMES)} & {rng.choice(_PLAIN_SURNAMES)} {activity} {suffix}"


def _phone(rng: random.Random, area: str, mobile: bool) -> str:
    if mobile:
        return f"({area}) 9{rng.randrange(6000, 10000)}-{rng.randrange(10000):04d}"
    return f"({area}) {rng.randrange(2, 6)}{rng.randrange(1000):03d}-{rng.randrange(10000):04d}"


def _debtor(rng: random.Random) -> _Debtor:
    is_company = rng.random() < 0.15
    if is_company:
        document = generate_cnpj(rng, alphanumeric=rng.random() < 0.2)
        name = _company_name(rng)
        words = [w for w in map(_slug, name.split()) if len(w) > 2]  # no "e", "de", "&"
        email = f"financeiro@{words[0]}{words[1]}.com.br"
    else:
        document = generate_cpf(rng)
        name = _person_name(rng)
        words = [w for w in name.split() if w not in _PARTICLES]
        number = str(rng.randrange(1, 100)) if rng.random() < 0.4 else ""
        separator = rng.choice((".", "_", ""))
        email = f"{_slug(words[0])}{separator}{_slug(words[-1])}{number}@"
        email += rng.choice(_EMAIL_DOMAINS)
    city, state, area = rng.choices(_CITIES, cum_weights=_CITY_CUM_WEIGHTS)[0]
    phone = ""
    if rng.random() < 0.85:
        phone = _phone(rng, area, mobile=rng.random() < (0.4 if is_company else 0.8))
    if rng.random() < 0.05:
        city = state = ""
    return _Debtor(
        document=format_document(document) if rng.random() < 0.6 else document,
        name=name,
        email=email if rng.random() < 0.7 else "",
        phone=phone,
        city=city,
        state=state,
        is_company=is_company,
    )


def _contract_prefix(creditor: str) -> str:
    initials = "".join(w[0] for w in creditor.split() if w[:1].isupper())
    return (initials or "CT")[:3].upper()


_CONTRACTS_PER_DEBTOR = ((1, 2, 3), (70, 92, 100))  # values, cumulative weights
_INSTALLMENTS = ((1, 2, 3, 4, 6), (65, 77, 87, 95, 100))
# Debtors' ages in days: from 18 to 80 years old.
_AGE_DAYS = (18 * 366, 80 * 365)
_LOG_MIN_CENTS = math.log(5_000)  # R$ 50,00
_LOG_MAX_CENTS = math.log(2_500_000)  # R$ 25.000,00


class _Writer:
    """Turns debts into CSV cells in one file's style; numbers its contracts."""

    def __init__(
        self,
        rng: random.Random,
        today: date,
        creditors: Sequence[str],
        decimal_comma: bool,
        iso_dates: bool,
    ) -> None:
        self.rng = rng
        self.today = today
        self.creditors = tuple(creditors)
        self.prefixes = tuple(_contract_prefix(c) for c in creditors)
        self.decimal_comma = decimal_comma
        self.iso_dates = iso_dates
        self.contract_number = rng.randrange(1_000_000, 5_000_000)

    def format_amount(self, cents: int) -> str:
        reais, centavos = divmod(cents, 100)
        if not self.decimal_comma:
            return f"{reais}.{centavos:02d}"
        if reais >= 1000 and cents % 3 == 0:  # some files group thousands, some don't
            return f"{reais:,}".replace(",", ".") + f",{centavos:02d}"
        return f"{reais},{centavos:02d}"

    def format_date(self, value: date) -> str:
        if self.iso_dates:
            return value.isoformat()
        return f"{value.day:02d}/{value.month:02d}/{value.year}"

    def birth_date(self, debtor: _Debtor) -> str:
        """A person's date of birth, an adult's; empty for a company. Drawn from the document,
        not from the file's random stream, so every other column stays as it was."""
        if debtor.is_company:
            return ""
        own = random.Random(f"birth|{debtor.document}")
        return self.format_date(self.today - timedelta(days=own.randint(*_AGE_DAYS)))

    def debts(self, debtor: _Debtor) -> list[list[str]]:
        rng = self.rng
        rows: list[list[str]] = []
        born = self.birth_date(debtor)
        values, weights = _CONTRACTS_PER_DEBTOR
        for _ in range(rng.choices(values, cum_weights=weights)[0]):
            index = rng.randrange(len(self.creditors))
            categories = _CATEGORIES[index % len(_CATEGORIES)]
            if debtor.is_company and index % len(_CATEGORIES) == 0:
                categories = _COMPANY_CATEGORIES
            category = rng.choice(categories)
            self.contract_number += rng.randrange(1, 97)
            contract = f"{self.prefixes[index]}-{self.contract_number:08d}"
            installments = rng.choices(_INSTALLMENTS[0], cum_weights=_INSTALLMENTS[1])[0]
            # Log-uniform: many small debts, a few large ones.
            amount = self.format_amount(
                round(math.exp(rng.uniform(_LOG_MIN_CENTS, _LOG_MAX_CENTS)))
            )
            # Monthly installments: the last one at least a day ago, the first at most 900.
            last_days_ago = rng.randint(1, 900 - 30 * (installments - 1))
            for number in range(1, installments + 1):
                days_ago = last_days_ago + 30 * (installments - number)
                rows.append(
                    [
                        debtor.document,
                        debtor.name,
                        self.creditors[index],
                        contract,
                        str(number),
                        amount,
                        self.format_date(self.today - timedelta(days=days_ago)),
                        debtor.email,
                        debtor.phone,
                        debtor.city,
                        debtor.state,
                        category,
                        born,
                    ]
                )
        return rows

    def spoil(self, row: list[str], defect: str) -> None:
        """Make one row invalid in one of the ways creditors' files really are."""
        rng = self.rng
        if defect == "check_digit":
            document = row[0]
            wrong = str((int(document[-1]) + rng.randint(1, 9)) % 10)
            row[0] = document[:-1] + wrong
        elif defect == "zero_amount":
            row[5] = self.format_amount(0)
        elif defect == "negative_amount":
            row[5] = "-" + row[5]
        elif defect == "future_due_date":
            row[6] = self.format_date(self.today + timedelta(days=rng.randint(5, 400)))
        elif defect == "missing_creditor":
            row[2] = ""
        else:
            row[6] = rng.choice(_GARBLED_DATES)


def generate_carteira(
    rows: int,
    seed: int = 42,
    *,
    today: date,
    invalid_share: float = 0.02,
    creditors: Sequence[str] = DEFAULT_CREDITORS,
    delimiter: str = ";",
    decimal_comma: bool = True,
    iso_dates: bool = False,
) -> str:
    """CSV text of a carteira with exactly `rows` data rows and a pt-BR header.

    By default as Excel pt-BR writes it: `;`, decimal comma, dd/mm/yyyy. About 85% of debtors
    have a CPF and 15% a CNPJ (a fifth of those alphanumeric); many have several contracts or
    installments. round(rows * invalid_share) rows, spread by the seed, break one rule each.
    """
    if rows < 0:
        raise ValueError("rows must be >= 0")
    if not 0.0 <= invalid_share <= 1.0:
        raise ValueError("invalid_share must be between 0 and 1")
    if not creditors:
        raise ValueError("at least one creditor is needed")
    rng = random.Random(seed)
    writer = _Writer(rng, today, creditors, decimal_comma, iso_dates)
    data: list[list[str]] = []
    while len(data) < rows:
        data.extend(writer.debts(_debtor(rng)))
    del data[rows:]
    for position, index in enumerate(sorted(rng.sample(range(rows), round(rows * invalid_share)))):
        # Cycle through the defects so that every kind shows up even in a small file.
        writer.spoil(data[index], _DEFECTS[position % len(_DEFECTS)])
    out = io.StringIO()
    csv_writer = csv.writer(out, delimiter=delimiter, lineterminator="\n")
    csv_writer.writerow(HEADER)
    csv_writer.writerows(data)
    return out.getvalue()


def generate_debtors(
    count: int,
    seed: int,
    *,
    today: date,
    creditors: Sequence[str] = DEFAULT_CREDITORS,
) -> list[list[list[str]]]:
    """`count` debtors, each as its valid rows (HEADER's columns, as Excel pt-BR writes them):
    the simulator's world, where a debtor matters more than a row count."""
    if count < 0:
        raise ValueError("count must be >= 0")
    rng = random.Random(seed)
    writer = _Writer(rng, today, creditors, decimal_comma=True, iso_dates=False)
    return [writer.debts(_debtor(rng)) for _ in range(count)]


def write_carteira(
    path: str | os.PathLike[str],
    rows: int,
    seed: int,
    today: date,
    encoding: str = "utf-8",
    *,
    invalid_share: float = 0.02,
    creditors: Sequence[str] = DEFAULT_CREDITORS,
    delimiter: str = ";",
    decimal_comma: bool = True,
    iso_dates: bool = False,
) -> None:
    """Write `generate_carteira(...)` to `path` in `encoding` (e.g. "utf-8-sig", "cp1252")."""
    text = generate_carteira(
        rows,
        seed,
        today=today,
        invalid_share=invalid_share,
        creditors=creditors,
        delimiter=delimiter,
        decimal_comma=decimal_comma,
        iso_dates=iso_dates,
    )
    Path(path).write_bytes(text.encode(encoding))
