"""The English message of an error, next to its pt-BR message: by the error's code, and for
each detail by its rule. Programs read the code and the rule; people read the message in their
language. A code or rule not in these tables gets a generic sentence, never an empty one."""

from __future__ import annotations

MESSAGES_EN: dict[str, str] = {
    "bad_request": "The request could not be read",
    "validation_failed": "The request is not valid",
    "unauthorized": "Authentication is required: send a valid token in Authorization: Bearer",
    "forbidden": "This token may not do this (its role or its tenant)",
    "not_found": "Not found",
    "method_not_allowed": "Method not allowed on this address",
    "conflict": "The request conflicts with the current state",
    "payload_too_large": "The request body is too large",
    "unsupported_media_type": "Unsupported Content-Type",
    "rate_limited": "Too many requests; try again after the time in Retry-After",
    "too_many_requests": "Too many requests; try again after the time in Retry-After",
    "internal_error": "Internal error; please try again",
    "service_unavailable": "A service did not answer in time; try again shortly",
    "negotiation_unavailable": "The negotiation service did not answer in time; try again shortly",
    "ruler_unavailable": "The collection ruler service did not answer in time; try again shortly",
    "messaging_unavailable": "The messaging service did not answer in time; try again shortly",
    "not_ready": "The service is not ready",
    "not_a_carteira_csv": "The file is not a carteira CSV",
    "unknown_request": "Unknown request",
    "debt_not_found": "Debt not found",
    "debt_settled": "The debt is already settled",
    "debt_withdrawn": "The creditor withdrew the debt from collection",
    "debt_in_agreement": "The debt is already in an active agreement",
    "invoice_paid": "The installment is paid: its boleto is no longer to be paid",
    "invoice_cancelled": "The installment was cancelled when its agreement ended: its boleto "
    "is no longer to be paid",
    "invoice_partly_paid": "The installment is partly paid: its boleto carries the whole "
    "amount; pay the balance by the installment's PIX",
    "conversation_closed": "The conversation is closed",
    "conversation_open": "The debtor already has an open conversation",
    "not_your_conversation": "The conversation is with another operator",
    "not_with_operator": "The conversation is not with an operator",
    "opted_out": "The debtor opted out of this channel",
    "clock_not_manual": "The business clock is not in manual mode",
    "clock_not_started": "The business clock has not started",
    "no_business_date": "The ruler has not received the business clock's day yet; try again "
    "shortly",
    "not_business_day": "Today is not a business day: the ruler runs only on business days "
    "(it runs on the next one)",
    "personal_data_erased": "The debtor's personal data were erased at their request (LGPD): "
    "there is no contact to write to",
    "bad_gateway": "A service answered with something that could not be read",
}

# Details: by rule (what was broken), in words about the field the detail names.
RULES_EN: dict[str, str] = {
    "required": "This field is required",
    "token_expired": "The token has expired: ask for a new one",
    "token_invalid": "Not a token of this platform (signature, issuer or format)",
    "token_claims": "The token names no role or no tenant",
    "role": "The token's role may not do this",
    "not_configured": "The agency has not configured this yet (its negotiation settings)",
    "penalty_above_legal_cap": "A multa above 2%, the most a consumer's debt may be charged "
    "(CDC art. 52 §1)",
    "unknown_field": "Unknown field",
    "minimum": "The value is too small",
    "exclusive_minimum": "The value is too small",
    "maximum": "The value is too large",
    "exclusive_maximum": "The value is too large",
    "integer": "Must be an integer (money: in integer centavos)",
    "date": "Must be a date YYYY-MM-DD",
    "datetime": "Must be a date-time (ISO 8601)",
    "number": "Must be a number",
    "boolean": "Must be true or false",
    "type": "Wrong type",
    "decimal_places": "Too many decimal places",
    "max_length": "Too long",
    "min_length": "Too short",
    "min_items": "Too few items",
    "max_items": "Too many items",
    "pattern": "Wrong format",
    "max_digits": "Too many digits",
    "uuid": "Must be a UUID",
    "json": "The body is not valid JSON",
    "choice": "Not one of the allowed values",
    "invalid": "Invalid value",
    "check_digit": "Invalid check digit",
    "length": "Wrong length for a CPF (11) or CNPJ (14)",
    "characters": "Invalid characters",
    "repeated_digits": "A document cannot repeat one digit",
    "same_creditor": "All debts must be of the same creditor",
    "same_debtor": "All debts must be of the same debtor",
    "not_allowed": "Not allowed",
    "timezone": "A time zone is required",
    "token_tenant": "Must be the token's tenant",
    "unique_code": "Codes must be unique",
    "email_only": "Only for e-mail",
    "no_condition": "No payment condition allows this",
    "no_contact": "No contact for this channel",
    "opted_out": "The debtor opted out of this channel",
    "unknown_template": "Unknown template",
    "unknown_result": "Unknown call result",
    "unknown_condition": "Unknown payment condition",
    "not_cnab240": "Not a CNAB 240 file",
    # A CNAB 240 return refused whole (services.negotiation.application.service).
    "other_bank": "The return file is of a bank that issued none of the tenant's boletos",
    "unknown_bank": "The return file's bank code is not a bank the platform knows",
    "record_length": "A record is not 240 columns long: the file was cut short or edited",
    "truncated": "The file ends without its trailer (or a batch without its own): cut short",
    "trailer_count": "A trailer's record or batch counts do not add up (or cannot be read)",
    "after_trailer": "Lines after the file trailer",
    # A carteira file refused whole (services.gateway.domain.carteira_csv.NotACarteiraCsv).
    "empty": "The file is empty",
    "binary": "The file is not a CSV (a spreadsheet, PDF, image or archive?)",
    "no_header": "No carteira header found in the first lines",
    "missing_columns": "Required columns are missing from the header",
    "no_rows": "The file has a header but no rows",
    "malformed": "The CSV is malformed at the line named (a quote left open?)",
    "unsupported_bank": "No boleto layout is known for this bank",
    "unsupported_wallet": "This bank's boleto layout does not take this carteira",
    "digits_count": "Wrong number of digits for this bank",
    "sequence_exhausted": "No nosso número left in this bank's boleto layout; numbers are never "
    "reused",
    "first_installment": "Invalid first installment",
    # A boleto withheld (contracts.invoices.WITHHELD_RULES), field `invoice`.
    "paid": "The installment is paid: its boleto is no longer to be paid",
    "cancelled": "The installment was cancelled when its agreement ended: its boleto is no "
    "longer to be paid",
    "partly_paid": "The installment is partly paid: its boleto carries the whole amount; pay "
    "the balance by the installment's PIX",
    "per_address": "Too many requests from this address; try again after Retry-After",
    "per_document": "Too many requests for this document; try again after Retry-After",
    "per_enumeration": "Too many different documents looked up from this address; "
    "try again after Retry-After",
    "not_eligible": "Not available for negotiation in this portal",
    "no_portal": "This agency has no portal (check the address)",
    "tenant_length": "A tenant is a text of 1 to 63 characters",
    "tenant_name": "A tenant is named with letters, digits, '.', '_' and '-', first a letter or a "
    "digit",
    "not_in_future": "The date is after today (the business day)",
    "not_in_past": "The date is before today (the business day)",
    "before_agreement": "The date is before the agreement that issued the invoice was closed",
    "no_debt": "No debt of this document in this agency",
    "no_phone": "No phone on file for this debtor",
    "unknown_operator": "No such operator has come to this agency's desk",
    "unknown_state": "Not one of the 27 Brazilian states (UF)",
    "unknown_cut": "Unknown cut for this indicator",
    "too_many_codes": "Too many codes sent for this document today",
    "reused": "This Idempotency-Key already closed another agreement; use a new key",
    "link_expired": "The link expired; ask the agency for a new one",
    "link_invalid": "Invalid link; ask the agency for a new one",
    "broker": "The broker is not connected",
    "read_store": "The read store does not answer",
    "lagging": "A projection is behind its topics",
    "not_assigned": "A projection has not been given its partitions yet",
    "partial_assignment": "A projection reads only part of its partitions into a local "
    "SQLite read store (another gateway has the rest)",
    "unpublished_events": "Stored events could not be published (kept in outbox_unpublished)",
    "relay_restarting": "The relay stopped on an unexpected error and is being restarted",
    "relay_unknown": "The relay's database did not answer",
    "projection_failing": "A projection cannot apply a batch of events and does not move on",
    "mismatch": "Wrong code; try again",
    "expired": "The code expired; look the document up again for a new one",
    "exhausted": "No tries left; look the document up again for a new code",
    "used": "The code was already used; look the document up again",
    "content_type": "Only PNG or JPEG",
    "magic_bytes": "The file is not the image it claims to be",
    "max_size": "Too large",
    "range": "Out of range",
    "operator": "The conversation is another operator's",
    "same_operator": "Already with this operator",
    # An operator's display name (services.messaging.domain.operators.DISPLAY_NAME_RULES).
    "blank": "Must not be blank",
    "email": "A name the debtor reads (e.g. Ana), not an e-mail or login",
    "digits_only": "A name the debtor reads (e.g. Ana), not a number",
    "conversation_open": "A conversation with this phone is already open",
    "phone": "Invalid phone number",
    "not_found": "Not found",
    "settled": "The debt is already settled",
    "withdrawn": "The creditor withdrew the debt from collection",
    "in_agreement": "The debt is already in an active agreement",
    "personal_data_erased": "The debtor's personal data were erased at their request (LGPD): "
    "there is no contact to write to",
}

GENERIC_EN = "The request could not be completed"
GENERIC_RULE_EN = "Invalid value"


def english(code: str, status: int | None = None) -> str:
    if code in MESSAGES_EN:
        return MESSAGES_EN[code]
    if code.endswith("_unavailable"):
        return MESSAGES_EN["service_unavailable"]
    if status is not None and status >= 500:
        return MESSAGES_EN["internal_error"]
    return GENERIC_EN


def english_rule(rule: str, field: str = "") -> str:
    if rule == "integer" and not field.endswith("_cents"):
        return "Must be an integer"  # the money hint only where it is money, as in pt-BR
    return RULES_EN.get(rule, GENERIC_RULE_EN)


# pt-BR messages for Litestar's own exceptions, whose detail is its English status phrase.
MESSAGES_PT: dict[str, str] = {
    "bad_request": "requisição inválida",
    "unauthorized": "autenticação obrigatória",
    "forbidden": "acesso negado",
    "not_found": "não encontrado",
    "method_not_allowed": "método não permitido neste endereço",
    "payload_too_large": "corpo da requisição grande demais",
    "unsupported_media_type": "Content-Type não suportado",
    "rate_limited": "muitas requisições; tente novamente após o tempo em Retry-After",
    "too_many_requests": "muitas requisições; tente novamente após o tempo em Retry-After",
    "internal_error": "erro interno; tente novamente",
}
