/* The debtor portal's script: it only improves pages that work without it.
   - the CPF/CNPJ field: mask as the person types and the same check as the server
     (contracts/documents.py: CPF and CNPJ check digits, alphanumeric CNPJ);
   - the date of birth field (the second factor): mask dd/mm/aaaa as digits are typed and the
     same check as the server (services/gateway/domain/portal_challenge.py parse_birth_date;
     whether it is in the future is left to the server, which has the business date);
   - copy buttons for the linha digitável and the PIX code;
   - forms marked data-once are sent once (a double click closes one agreement). */
(function () {
  "use strict";

  var CPF_W1 = [10, 9, 8, 7, 6, 5, 4, 3, 2];
  var CPF_W2 = [11, 10, 9, 8, 7, 6, 5, 4, 3, 2];
  var CNPJ_W1 = [5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2];
  var CNPJ_W2 = [6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2];

  function normalize(raw) {
    return raw.replace(/[\s.\-\/\u2010-\u2014]/g, "").toUpperCase();
  }

  // Two mod-11 check digits; a character is worth its code minus 48 ('A' = 17).
  function checkDigits(base, w1, w2) {
    var values = [];
    var digits = "";
    var i;
    for (i = 0; i < base.length; i++) { values.push(base.charCodeAt(i) - 48); }
    [w1, w2].forEach(function (weights) {
      var sum = 0;
      for (var j = 0; j < weights.length; j++) { sum += values[j] * weights[j]; }
      var remainder = sum % 11;
      var digit = remainder < 2 ? 0 : 11 - remainder;
      values.push(digit);
      digits += String(digit);
    });
    return digits;
  }

  function allEqual(doc) {
    for (var i = 1; i < doc.length; i++) { if (doc[i] !== doc[0]) { return false; } }
    return true;
  }

  // The server's reasons (contracts.documents.validate_document), or "" when valid.
  function problem(raw) {
    var doc = normalize(raw);
    if (!doc) { return "documento vazio"; }
    var bad = doc.replace(/[0-9A-Z]/g, "");
    if (bad) {
      var unique = bad.split("").filter(function (c, i, all) { return all.indexOf(c) === i; });
      return "documento contém caracteres inválidos: '" + unique.sort().join("") + "'";
    }
    if (doc.length === 11) {
      if (!/^[0-9]{11}$/.test(doc)) { return "CPF deve conter apenas dígitos"; }
      if (allEqual(doc)) { return "CPF com todos os dígitos iguais não é válido"; }
      if (checkDigits(doc.slice(0, 9), CPF_W1, CPF_W2) !== doc.slice(9)) {
        return "CPF com dígito verificador inválido";
      }
      return "";
    }
    if (doc.length === 14) {
      if (!/^[0-9]{2}$/.test(doc.slice(12))) {
        return "CNPJ deve terminar com dois dígitos verificadores numéricos";
      }
      if (allEqual(doc)) { return "CNPJ com todos os dígitos iguais não é válido"; }
      if (checkDigits(doc.slice(0, 12), CNPJ_W1, CNPJ_W2) !== doc.slice(12)) {
        return "CNPJ com dígito verificador inválido";
      }
      return "";
    }
    if (/^[0-9]+$/.test(doc) && doc.length < 11) {
      return "CPF deve ter 11 dígitos (encontrados " + doc.length + ")";
    }
    if (doc.length < 14) {
      return "CNPJ deve ter 14 caracteres (encontrados " + doc.length + ")";
    }
    return "documento com " + doc.length + " caracteres: CPF tem 11 dígitos e CNPJ tem 14 caracteres";
  }

  // As the pages say it (services/gateway/entrypoints/web/pages.py document_message).
  function message(reason) {
    if (reason === "documento vazio") { return "Informe o CPF ou o CNPJ."; }
    return reason.charAt(0).toUpperCase() + reason.slice(1) + ". Confira o número digitado.";
  }

  // 000.000.000-00 while it can be a CPF; 00.000.000/0000-00 (letters allowed) after.
  function mask(doc) {
    var parts;
    if (/^[0-9]{0,11}$/.test(doc)) {
      parts = [[0, 3, ""], [3, 6, "."], [6, 9, "."], [9, 11, "-"]];
    } else {
      parts = [[0, 2, ""], [2, 5, "."], [5, 8, "."], [8, 12, "/"], [12, 14, "-"]];
    }
    var out = "";
    parts.forEach(function (p) {
      if (doc.length > p[0]) { out += p[2] + doc.slice(p[0], p[1]); }
    });
    return out;
  }

  function significantBefore(text, position) {
    return normalize(text.slice(0, position)).replace(/[^0-9A-Z]/g, "").length;
  }

  function positionAfter(text, count) {
    if (count === 0) { return 0; }
    var seen = 0;
    for (var i = 0; i < text.length; i++) {
      if (/[0-9A-Z]/.test(text[i])) { seen += 1; }
      if (seen === count) { return i + 1; }
    }
    return text.length;
  }

  function setupDocument(form) {
    var input = form.querySelector("[data-document]");
    var error = document.getElementById("document-erro");
    if (!input || !error) { return; }

    function show(text) {
      error.textContent = text;
      error.hidden = !text;
      if (text) { input.setAttribute("aria-invalid", "true"); }
      else { input.removeAttribute("aria-invalid"); }
    }

    function complete(doc) {
      return (doc.length === 11 && /^[0-9]+$/.test(doc)) || doc.length >= 14;
    }

    input.addEventListener("input", function () {
      var raw = input.value;
      var atEnd = input.selectionStart === raw.length;
      var count = significantBefore(raw, input.selectionStart || 0);
      var doc = normalize(raw);
      var invalidCharacters = /[^0-9A-Z]/.test(doc);
      if (!invalidCharacters) {
        doc = doc.slice(0, 14);
        var masked = mask(doc);
        if (masked !== raw) {
          input.value = masked;
          var caret = atEnd ? masked.length : positionAfter(masked, count);
          input.setSelectionRange(caret, caret);
        }
      }
      // Said as soon as the document is complete (or has a character no document has);
      // a document still being typed is not an error yet.
      var reason = invalidCharacters || complete(doc) ? problem(doc) : "";
      show(reason ? message(reason) : "");
    });

    input.addEventListener("blur", function () {
      if (input.value) {
        var reason = problem(input.value);
        show(reason ? message(reason) : "");
      }
    });

    form.addEventListener("submit", function (event) {
      var reason = problem(input.value);
      if (reason) {
        event.preventDefault();
        event.stopImmediatePropagation();
        show(message(reason));
        input.focus();
      }
    });
  }

  // dd/mm/aaaa from the digits typed (a date pasted as aaaa-mm-dd is turned around).
  function maskDate(raw) {
    var iso = /^\s*([0-9]{4})-([0-9]{2})-([0-9]{2})\s*$/.exec(raw);
    if (iso) { return iso[3] + "/" + iso[2] + "/" + iso[1]; }
    var digits = raw.replace(/[^0-9]/g, "").slice(0, 8);
    if (digits.length > 4) {
      return digits.slice(0, 2) + "/" + digits.slice(2, 4) + "/" + digits.slice(4);
    }
    if (digits.length > 2) { return digits.slice(0, 2) + "/" + digits.slice(2); }
    return digits;
  }

  function daysIn(year, month) {
    var leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
    return [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
  }

  // The server's reasons (parse_birth_date), or "" when it is a date it would check.
  function dateProblem(raw, label) {
    var text = raw.trim();
    if (!text) { return "informe a " + label + " (dd/mm/aaaa)"; }
    var day, month, year;
    var m = /^([0-9]{1,2})[\/.\-]([0-9]{1,2})[\/.\-]([0-9]{4})$/.exec(text) ||
      /^([0-9]{2})([0-9]{2})([0-9]{4})$/.exec(text);
    if (m) {
      day = Number(m[1]); month = Number(m[2]); year = Number(m[3]);
    } else {
      m = /^([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})$/.exec(text);
      if (!m) { return "data inválida: use dd/mm/aaaa, como em 17/05/1980"; }
      year = Number(m[1]); month = Number(m[2]); day = Number(m[3]);
    }
    if (year < 1 || month < 1 || month > 12 || day < 1 || day > daysIn(year, month)) {
      return "esta data não existe no calendário";
    }
    if (year < 1900) { return "a data informada é anterior a 1900: confira o ano"; }
    return "";
  }

  // As the pages say a reason (services/gateway/entrypoints/web/pages.py sentence).
  function sentence(reason) {
    var text = reason.trim().replace(/\.+$/, "");
    return text ? text.charAt(0).toUpperCase() + text.slice(1) + "." : "";
  }

  function setupDate(form) {
    var input = form.querySelector("[data-date]");
    var error = document.getElementById(input ? input.id + "-erro" : "");
    if (!input || !error) { return; }
    var label = input.getAttribute("data-date") || "data de nascimento";

    function show(text) {
      error.textContent = text;
      error.hidden = !text;
      if (text) { input.setAttribute("aria-invalid", "true"); }
      else { input.removeAttribute("aria-invalid"); }
    }

    input.addEventListener("input", function () {
      var raw = input.value;
      var atEnd = input.selectionStart === raw.length;
      var count = raw.slice(0, input.selectionStart || 0).replace(/[^0-9]/g, "").length;
      var masked = maskDate(raw);
      if (masked !== raw) {
        input.value = masked;
        var caret = atEnd ? masked.length : positionAfter(masked, count);
        input.setSelectionRange(caret, caret);
      }
      // Said once the eight digits are in; a date still being typed is not an error yet.
      var complete = masked.replace(/[^0-9]/g, "").length === 8;
      show(complete ? sentence(dateProblem(masked, label)) : "");
    });

    form.addEventListener("submit", function (event) {
      var reason = dateProblem(input.value, label);
      if (reason) {
        event.preventDefault();
        event.stopImmediatePropagation();
        show(sentence(reason));
        input.focus();
      }
    });
  }

  function setupCopy(button) {
    var target = document.getElementById(button.getAttribute("data-copy"));
    var status = document.getElementById("status-copia");
    if (!target) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      var text = target.getAttribute("data-copy-value") || target.textContent.trim();
      var done = function () {
        if (status) { status.textContent = button.getAttribute("data-copied") || "Copiado."; }
      };
      var fallback = function () {
        var range = document.createRange();
        range.selectNodeContents(target);
        var selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        var copied = false;
        try { copied = document.execCommand("copy"); } catch (e) { copied = false; }
        if (copied) { done(); }
        else if (status) { status.textContent = "Selecionado: copie com o menu do seu aparelho."; }
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(done, fallback);
      } else {
        fallback();
      }
    });
  }

  function setupOnce(forms) {
    forms.forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (event.defaultPrevented) { return; }
        if (form.getAttribute("data-sent")) { event.preventDefault(); return; }
        // Every once-form of the page: one page, one agreement (they share its key).
        forms.forEach(function (other) {
          other.setAttribute("data-sent", "1");
          other.querySelectorAll("button[type=submit]").forEach(function (b) {
            b.disabled = true;
            b.setAttribute("aria-disabled", "true");
          });
        });
        form.setAttribute("aria-busy", "true");
      });
    });
    // Back from the next page (browser cache): the buttons work again.
    window.addEventListener("pageshow", function (event) {
      if (!event.persisted) { return; }
      forms.forEach(function (form) {
        form.removeAttribute("data-sent");
        form.removeAttribute("aria-busy");
        form.querySelectorAll("button[type=submit]").forEach(function (b) {
          b.disabled = false;
          b.removeAttribute("aria-disabled");
        });
      });
    });
  }

  function start() {
    document.querySelectorAll("form[data-document-form]").forEach(setupDocument);
    document.querySelectorAll("form[data-date-form]").forEach(setupDate);
    document.querySelectorAll("button[data-copy]").forEach(setupCopy);
    setupOnce(Array.prototype.slice.call(document.querySelectorAll("form[data-once]")));
  }

  // Under Node (tests/unit/test_portal_script.py): the rules, without a page.
  if (typeof module === "object" && module.exports) {
    module.exports = {
      problem: problem,
      message: message,
      mask: mask,
      normalize: normalize,
      maskDate: maskDate,
      dateProblem: dateProblem,
      sentence: sentence,
    };
    return;
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
