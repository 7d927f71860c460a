"""The page of ``speechgen serve``: HTML (rendered with the models on offer), style sheet and script.

Everything is served by the app itself (no CDN, no fonts, no external requests), so it works offline; the
Content-Security-Policy :data:`CSP` enforces that. The script talks to ``/api/generate``, ``/api/vocode``,
``/api/speak`` and ``/api/separate`` and shows every answer's ``error`` line on the page.
"""

from __future__ import annotations

import json
from html import escape
from typing import Any

MAX_TEXT_CHARS = 200  # characters of a text to speak (the app refuses longer ones) ...
MAX_SPOKEN_DIGITS = 20  # ... and digits in it: decoding holds a worker (about 8 s of speech at most)

NO_VOCODER = ("no vocoder available: the shipped 'default' vocoder is missing from this install and none was given; "
              "start the server with --vocoder RUN_FOLDER to use one of yours")
NO_TTS = ("no text-to-speech model available: none is shipped with this install and none was given; start the "
          "server with --tts RUN_FOLDER (a text-to-speech run such as tacotron2) to speak text")

NO_SEPARATOR = ("no separator available: none is shipped with this install and none was given; start the server "
                "with --separator RUN_FOLDER (one per voice count, and --counter RUN_FOLDER to choose among them)")

#: only this server's script and style; audio and images arrive as data URIs
CSP = ("default-src 'self'; img-src 'self' data:; media-src 'self' data:; connect-src 'self'; "
       "style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:1.5em auto;max-width:1000px;color:#222;
padding:0 1em}
h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ddd}
header p{color:#555;margin-top:0}
form{display:flex;flex-wrap:wrap;gap:.8em 1.2em;align-items:end}label{display:flex;flex-direction:column;
font-size:.9em;gap:.2em}select,input,button{font:inherit;padding:.25em .4em}button{cursor:pointer}
button:disabled{cursor:progress}.status{color:#555;font-size:.9em}.hint{color:#555;font-size:.85em;margin:.4em 0}
.error{color:#b00020;background:#fdecee;border:1px solid #f3b7bf;padding:.5em .7em;border-radius:4px}
.notice{background:#fff6e0;border:1px solid #f0d48a;padding:.5em .7em;border-radius:4px}
.result{margin-top:1em}img{max-width:100%;border:1px solid #eee;display:block;margin:.4em 0}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right;
vertical-align:top}th{background:#f3f3f3}td.l,th.l{text-align:left}audio{width:100%;min-width:260px}
.pair{display:grid;grid-template-columns:1fr 1fr;gap:1em}.ok{color:#17702a}.bad{color:#b00020}
input.text{min-width:22em}
"""

SCRIPT = r"""
"use strict";
const $ = (id) => document.getElementById(id);

function setError(el, message) {
  el.textContent = message || "";
  el.hidden = !message;
}

// "100 bytes", "19.5 KB", "3 MB" (binary units, at most one decimal), as the server's format_size
function formatSize(n) {
  if (n < 1024) return n + (n === 1 ? " byte" : " bytes");
  const units = ["KB", "MB", "GB", "TB"];
  let value = n / 1024, i = 0;
  while (value >= 1024 && i < units.length - 1) { value /= 1024; i += 1; }
  return value.toFixed(1).replace(/\.0$/, "") + " " + units[i];
}

function tooLarge(name, size, limit) {
  let a = formatSize(size), b = formatSize(limit);
  if (a === b) { a = size + " bytes"; b = limit + " bytes"; }  // "16 KB is too large (limit 16 KB)" says nothing
  return name + ": " + a + " is too large (limit " + b + ")";
}

async function post(url, body, headers) {
  let resp;
  try {
    resp = await fetch(url, {method: "POST", body: body, headers: headers});
  } catch (err) {
    throw new Error("the server did not answer (" + err.message + ")");
  }
  let answer = null;
  try { answer = await resp.json(); } catch (err) { answer = null; }
  if (!resp.ok || answer === null) {
    throw new Error(answer && answer.error ? answer.error : "the server answered HTTP " + resp.status);
  }
  return answer;
}

function busy(button, status, text) {
  button.disabled = Boolean(text);
  status.textContent = text || "";
}

function syncDigit() {
  const option = $("gen-model").selectedOptions[0];
  const classes = option ? Number(option.dataset.classes || 0) : 0;
  $("gen-digit").disabled = classes === 0;
}

async function generate(event) {
  event.preventDefault();
  const button = $("gen-button"), status = $("gen-status");
  setError($("gen-error"), "");
  busy(button, status, "generating…");
  try {
    const digit = $("gen-digit").disabled ? "" : $("gen-digit").value;
    const answer = await post("/api/generate",
      JSON.stringify({model: $("gen-model").value, digit: digit, seed: $("gen-seed").value}),
      {"Content-Type": "application/json"});
    $("gen-audio").src = answer.audio;
    $("gen-download").href = answer.audio;
    $("gen-download").download = "speechgen-" + (answer.digit === null ? "clip" : "digit" + answer.digit) +
      "-seed" + answer.seed + ".wav";
    $("gen-spec").src = answer.spectrogram;
    let info = answer.model + (answer.digit === null ? "" : ", digit " + answer.digit) + ", seed " + answer.seed +
      ": " + answer.duration.toFixed(2) + " s at " + answer.sample_rate + " Hz, generated in " +
      answer.generate_seconds.toFixed(2) + " s.";
    const judged = $("gen-judged");
    judged.textContent = "";
    judged.className = "";
    if (answer.judged) {
      judged.textContent = " The judge hears " + answer.judged.digit + " (p = " +
        answer.judged.probability.toFixed(3) + ").";
      if (answer.digit !== null) judged.className = answer.judged.digit === answer.digit ? "ok" : "bad";
    }
    $("gen-info").textContent = info;
    $("gen-result").hidden = false;
  } catch (err) {
    setError($("gen-error"), err.message);
  } finally {
    busy(button, status, "");
  }
}

function metricsTable(rows) {
  const table = $("voc-metrics");
  table.replaceChildren();
  const head = table.insertRow();
  for (const title of ["metric", "value", "better"]) {
    const th = document.createElement("th");
    th.textContent = title;
    th.className = title === "value" ? "" : "l";
    head.appendChild(th);
  }
  for (const row of rows) {
    const tr = table.insertRow();
    tr.dataset.key = row.key;
    const cells = [row.name, row.text, row.better];
    cells.forEach((text, i) => {
      const td = tr.insertCell();
      td.textContent = text;
      td.className = i === 1 ? "" : "l";
    });
  }
}

// the file chosen in an upload input, or null after the page says why it cannot be sent
function chosenUpload(input, error) {
  setError(error, "");
  const file = $(input).files[0];
  if (!file) { setError(error, "choose an audio file first"); return null; }
  const limit = Number(document.body.dataset.maxBytes);
  if (file.size > limit) {
    setError(error, tooLarge(file.name, file.size, limit));
    return null;
  }
  return file;
}

async function vocode(event) {
  event.preventDefault();
  const button = $("voc-button"), status = $("voc-status"), error = $("voc-error");
  const file = chosenUpload("voc-file", error);
  if (!file) return;
  busy(button, status, "uploading and vocoding…");
  try {
    const url = "/api/vocode?vocoder=" + encodeURIComponent($("voc-vocoder").value) +
      "&name=" + encodeURIComponent(file.name);
    const answer = await post(url, file, {"Content-Type": "application/octet-stream"});
    $("voc-audio-in").src = answer.input_audio;
    $("voc-audio-out").src = answer.output_audio;
    $("voc-download").href = answer.output_audio;
    $("voc-download").download = file.name.replace(/\.[^.]*$/, "") + "-vocoded.wav";
    $("voc-spec-in").src = answer.input_spectrogram;
    $("voc-spec-out").src = answer.output_spectrogram;
    $("voc-info").textContent = answer.name + ": " + answer.duration.toFixed(2) + " s analysed at " +
      answer.sample_rate + " Hz (file at " + answer.input_sample_rate + " Hz), vocoded by " + answer.vocoder +
      " in " + answer.vocode_seconds.toFixed(2) + " s.";
    metricsTable(answer.metrics);
    $("voc-notes").textContent = answer.notes.length ? "Notes: " + answer.notes.join("; ") : "";
    $("voc-result").hidden = false;
  } catch (err) {
    setError(error, err.message);
  } finally {
    busy(button, status, "");
  }
}

// one player (and spectrogram) per separated voice, built with DOM calls (no HTML from the server)
async function separate(event) {
  event.preventDefault();
  const button = $("sep-button"), status = $("sep-status"), error = $("sep-error");
  const file = chosenUpload("sep-file", error);
  if (!file) return;
  busy(button, status, "uploading and separating…");
  try {
    const answer = await post("/api/separate?name=" + encodeURIComponent(file.name), file,
                              {"Content-Type": "application/octet-stream"});
    $("sep-audio-in").src = answer.input_audio;
    $("sep-spec-in").src = answer.input_spectrogram;
    $("sep-info").textContent = answer.name + ": " + answer.duration.toFixed(2) + " s at " + answer.sample_rate +
      " Hz, " + answer.count + (answer.count === 1 ? " voice" : " voices") + (answer.counted ? " (counted)" : "") +
      ", separated in " + answer.separate_seconds.toFixed(2) + " s.";
    const list = $("sep-sources");
    list.replaceChildren();
    answer.sources.forEach((source, i) => {
      const box = document.createElement("div");
      const title = document.createElement("strong");
      title.textContent = "voice " + (i + 1) + " ";
      const link = document.createElement("a");
      link.href = source.audio;
      link.download = file.name.replace(/\.[^.]*$/, "") + "-s" + (i + 1) + ".wav";
      link.textContent = "Download WAV";
      const audio = document.createElement("audio");
      audio.controls = true;
      audio.src = source.audio;
      const img = document.createElement("img");
      img.src = source.spectrogram;
      img.alt = "spectrogram of voice " + (i + 1);
      box.append(title, link, audio, img);
      list.append(box);
    });
    $("sep-result").hidden = false;
  } catch (err) {
    setError(error, err.message);
  } finally {
    busy(button, status, "");
  }
}

// the speaker picker follows the chosen text-to-speech model: its voices by name (else by index), or disabled
function syncSpeakers() {
  const option = $("tts-model").selectedOptions[0], picker = $("tts-speaker");
  const count = option ? Number(option.dataset.speakers || 0) : 0;
  let names = [];
  try { names = option ? JSON.parse(option.dataset.voices || "[]") : []; } catch (err) { names = []; }
  picker.replaceChildren();
  if (count === 0) {
    const one = document.createElement("option");
    one.value = "";
    one.textContent = "one voice";
    picker.appendChild(one);
  }
  for (let i = 0; i < count; i += 1) {
    const voice = document.createElement("option");
    voice.value = String(i);
    voice.textContent = i < names.length ? names[i] : "voice " + i;
    picker.appendChild(voice);
  }
  picker.disabled = count === 0;
}

async function speak(event) {
  event.preventDefault();
  const button = $("tts-button"), status = $("tts-status"), error = $("tts-error");
  setError(error, "");
  const text = $("tts-text").value;
  if (!text.trim()) { setError(error, "type the digits to speak first, e.g. four two seven"); return; }
  busy(button, status, "speaking…");
  try {
    const speaker = $("tts-speaker").disabled ? "" : $("tts-speaker").value;
    const answer = await post("/api/speak",
      JSON.stringify({model: $("tts-model").value, text: text, speaker: speaker, seed: $("tts-seed").value,
                      vocoder: $("tts-vocoder").value}),
      {"Content-Type": "application/json"});
    $("tts-audio").src = answer.audio;
    $("tts-download").href = answer.audio;
    $("tts-download").download = "speechgen-" + answer.digits.replace(/ /g, "") + "-seed" + answer.seed + ".wav";
    $("tts-spec").src = answer.spectrogram;
    const align = $("tts-align");
    if (answer.alignment) {
      align.src = answer.alignment;
      align.hidden = false;
    } else {
      align.removeAttribute("src");
      align.hidden = true;
    }
    $("tts-info").textContent = "“" + answer.text + "” by " + answer.model +
      (answer.speaker ? ", voice " + answer.speaker : "") + ", seed " + answer.seed + ", vocoder " +
      answer.vocoder + ": " + answer.duration.toFixed(2) + " s at " + answer.sample_rate + " Hz, spoken in " +
      answer.speak_seconds.toFixed(2) + " s.";
    const warning = $("tts-warning");
    warning.textContent = answer.warning || "";
    warning.hidden = !answer.warning;
    $("tts-result").hidden = false;
  } catch (err) {
    setError(error, err.message);
  } finally {
    busy(button, status, "");
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("gen-form").addEventListener("submit", generate);
  $("gen-model").addEventListener("change", syncDigit);
  syncDigit();
  const form = $("voc-form");
  if (form) form.addEventListener("submit", vocode);
  const sepForm = $("sep-form");
  if (sepForm) sepForm.addEventListener("submit", separate);
  const ttsForm = $("tts-form");
  if (ttsForm) {
    ttsForm.addEventListener("submit", speak);
    $("tts-model").addEventListener("change", syncSpeakers);
    syncSpeakers();
  }
  document.body.dataset.ready = "1";
});
"""


def _options(choices: Any, with_classes: bool = False, with_speakers: bool = False) -> str:
    out = []
    for c in choices:
        extra = f" data-classes='{int(c.n_classes)}'" if with_classes else ""
        if with_speakers:
            extra += (f" data-speakers='{int(c.n_speakers)}'"
                      f" data-voices='{escape(json.dumps(list(c.speakers)), quote=True)}'")
        out.append(f"<option value='{escape(c.id, quote=True)}'{extra}>{escape(c.label)}</option>")
    return "".join(out)


def format_size(n: int) -> str:
    """A byte count for people: ``"100 bytes"``, ``"19.5 KB"``, ``"3 MB"`` (binary units, at most one decimal;
    the page's script has the same ``formatSize``)."""
    n = int(n)
    if n < 1024:
        return f"{n} byte" + ("" if n == 1 else "s")
    value, unit = n / 1024, "KB"
    for bigger in ("MB", "GB", "TB"):
        if value < 1024:
            break
        value, unit = value / 1024, bigger
    return f"{value:.1f}".removesuffix(".0") + f" {unit}"


def too_large(name: str, size: int, limit: int) -> str:
    """``"NAME: SIZE is too large (limit LIMIT)"``, in exact bytes where the rounded sizes would read the same."""
    a, b = format_size(size), format_size(limit)
    if a == b:
        a, b = f"{size} bytes", f"{limit} bytes"
    return f"{name}: {a} is too large (limit {b})"


def render(app: Any) -> str:
    """The page's HTML for ``app`` (a :class:`speechgen.web.app.App`): its generators, vocoders and limits."""

    digits = "".join(f"<option value='{d}'>{d}</option>" for d in range(10))
    if app.generators:
        gen_form = f"""
<form id="gen-form">
  <label>Model <select id="gen-model" name="model">{_options(app.generators.values(), True)}</select></label>
  <label>Digit <select id="gen-digit" name="digit">{digits}</select></label>
  <label>Seed <input id="gen-seed" name="seed" type="number" min="0" max="2147483647" step="1" value="0"></label>
  <button id="gen-button" type="submit">Generate</button>
  <span id="gen-status" class="status" role="status"></span>
</form>"""
    else:
        gen_form = ("<p class='notice' id='gen-none'>No generator available: none is shipped and no --model RUN "
                    "was given.</p><form id='gen-form' hidden><select id='gen-model'></select>"
                    "<select id='gen-digit'></select></form>")
    if app.vocoders:
        voc_form = f"""
<form id="voc-form">
  <label>Vocoder <select id="voc-vocoder" name="vocoder">{_options(app.vocoders.values())}</select></label>
  <label>Audio file <input id="voc-file" name="file" type="file" accept="audio/*,.wav,.flac,.ogg,.aiff,.aif">
  </label>
  <button id="voc-button" type="submit">Vocode</button>
  <span id="voc-status" class="status" role="status"></span>
</form>
<p class="hint">Up to {format_size(app.max_upload_bytes)} and {app.max_seconds:g} s of audio (WAV, FLAC, OGG, AIFF —
anything soundfile decodes); it is mixed to mono and resampled to the vocoder's rate, analysed as in training,
re-synthesised and compared with the input.</p>"""
    else:
        voc_form = f"<p class='notice' id='voc-none'>{escape(NO_VOCODER)}.</p>"
    tts_models = getattr(app, "tts", {})
    if tts_models and app.vocoders:
        tts_form = f"""
<form id="tts-form">
  <label>Text <input id="tts-text" class="text" name="text" type="text" maxlength="{MAX_TEXT_CHARS}"
    placeholder="four two seven" value="four two seven" autocomplete="off"></label>
  <label>Model <select id="tts-model" name="model">{_options(tts_models.values(), with_speakers=True)}</select>
  </label>
  <label>Speaker <select id="tts-speaker" name="speaker"></select></label>
  <label>Seed <input id="tts-seed" name="seed" type="number" min="0" max="2147483647" step="1" value="0"></label>
  <label>Vocoder <select id="tts-vocoder" name="vocoder">{_options(app.vocoders.values())}</select></label>
  <button id="tts-button" type="submit">Speak</button>
  <span id="tts-status" class="status" role="status"></span>
</form>
<p class="hint">Digit strings in any spelling: “4 2 7”, “four two seven”, “oh” for zero (at most
{MAX_SPOKEN_DIGITS} digits). The model predicts a log-mel spectrogram, the vocoder turns it into audio; the
alignment shows which symbol the model attended to at each decoder step.</p>"""
    else:
        tts_form = (f"<p class='notice' id='tts-none'>{escape(NO_TTS if not tts_models else NO_VOCODER)}.</p>")
    seps = getattr(app, "separators", None)
    if seps is not None:
        counts = ", ".join(str(k) for k in sorted(seps.models))
        how = (f"a speaker counter picks the separator of {counts} voices (one voice comes back as itself)"
               if seps.counter is not None else f"every upload is split into {counts} voices")
        sep_form = f"""
<form id="sep-form">
  <label>Mixture <input id="sep-file" name="file" type="file" accept="audio/*,.wav,.flac,.ogg,.aiff,.aif"></label>
  <button id="sep-button" type="submit">Separate</button>
  <span id="sep-status" class="status" role="status"></span>
</form>
<p class="hint">Up to {format_size(app.max_upload_bytes)} and {app.max_seconds:g} s of audio; it is mixed to mono and
resampled to the separator's rate; {escape(how)}.</p>"""
    else:
        sep_form = f"<p class='notice' id='sep-none'>{escape(NO_SEPARATOR)}.</p>"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>speechgen</title><link rel="stylesheet" href="/app.css"><script src="/app.js" defer></script></head>
<body data-max-bytes="{app.max_upload_bytes}" data-max-seconds="{app.max_seconds:g}">
<header><h1>speechgen</h1><p>Generative speech models served from this machine.</p></header>

<section id="generate">
<h2>Generate a digit</h2>
{gen_form}
<p id="gen-error" class="error" role="alert" hidden></p>
<div id="gen-result" class="result" hidden>
  <audio id="gen-audio" controls></audio>
  <p><span id="gen-info"></span><span id="gen-judged"></span> <a id="gen-download" href="#">Download WAV</a></p>
  <img id="gen-spec" alt="spectrogram of the generated clip">
</div>
</section>

<section id="speak">
<h2>Text to speech</h2>
{tts_form}
<p id="tts-error" class="error" role="alert" hidden></p>
<div id="tts-result" class="result" hidden>
  <audio id="tts-audio" controls></audio>
  <p><span id="tts-info"></span> <a id="tts-download" href="#">Download WAV</a></p>
  <p id="tts-warning" class="notice" hidden></p>
  <img id="tts-spec" alt="spectrogram of the spoken text">
  <img id="tts-align" alt="attention alignment: symbols up, decoder steps across" hidden>
</div>
</section>

<section id="vocode">
<h2>Copy synthesis</h2>
{voc_form}
<p id="voc-error" class="error" role="alert" hidden></p>
<div id="voc-result" class="result" hidden>
  <p id="voc-info"></p>
  <div class="pair">
    <div><strong>input</strong><audio id="voc-audio-in" controls></audio>
      <img id="voc-spec-in" alt="spectrogram of the input"></div>
    <div><strong>vocoded</strong> <a id="voc-download" href="#">Download WAV</a><audio id="voc-audio-out" controls>
      </audio><img id="voc-spec-out" alt="spectrogram of the vocoded audio"></div>
  </div>
  <table id="voc-metrics"></table>
  <p id="voc-notes" class="hint"></p>
</div>
</section>

<section id="separate">
<h2>Separate voices</h2>
{sep_form}
<p id="sep-error" class="error" role="alert" hidden></p>
<div id="sep-result" class="result" hidden>
  <p id="sep-info"></p>
  <div><strong>mixture</strong><audio id="sep-audio-in" controls></audio>
    <img id="sep-spec-in" alt="spectrogram of the mixture"></div>
  <div id="sep-sources" class="pair"></div>
</div>
</section>
</body></html>
"""
