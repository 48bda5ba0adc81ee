/* street2shop visual search: one copy of the page for the DSS webapp and the local server.
 * In DSS the backend routes are reached through getWebAppBackendUrl(); locally they sit under
 * "backend/" of the page's own origin. Server data is only ever inserted as text (no innerHTML). */
(function () {
  "use strict";

  var MAX_SIDE = 1024;      // photos are downscaled in the browser before upload
  var JPEG_QUALITY = 0.9;
  var backendUrl = (typeof getWebAppBackendUrl === "function")
    ? function (path) { return getWebAppBackendUrl(path); }
    : function (path) { return "backend" + path; };

  var config = null;
  var lastImage = null;      // base64 of the last photo, to re-run with other filters
  var requestSerial = 0;
  var sentSize = null;       // {width, height} of the picture sent: garment boxes are in its pixels
  var lastAnswer = null;
  var chosenPart = null;     // the garment the shopper picked ("top", ...), or "" for the whole photo
  var PART_NAMES = { top: "Top", bottom: "Bottom", full: "Full outfit" };

  function el(id) { return document.getElementById(id); }

  function setStatus(text, isError) {
    var status = el("s2s-status");
    status.textContent = text;
    status.className = "s2s-status" + (isError ? " s2s-error" : "");
  }

  function make(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  function getJson(url, options) {
    return fetch(url, options).then(function (response) {
      return response.text().then(function (text) {
        var body = null;
        try { body = text ? JSON.parse(text) : null; } catch (e) { body = null; }
        if (!response.ok) {
          var message = (body && (body.error || body.message)) || ("HTTP " + response.status);
          throw new Error(message);
        }
        return body;
      });
    });
  }

  function loadConfig() {
    return getJson(backendUrl("/config")).then(function (cfg) {
      config = cfg;
      buildFilters(cfg.filters || {});
      setStatus(cfg.count + " catalogue pictures. Add a photo to search.", false);
    }).catch(function (err) {
      setStatus("The search is not available: " + err.message, true);
    });
  }

  function buildFilters(filters) {
    var box = el("s2s-filters");
    box.textContent = "";
    Object.keys(filters).forEach(function (column) {
      var label = make("label", "s2s-control", column.charAt(0).toUpperCase() + column.slice(1));
      var select = make("select", "s2s-filter");
      select.setAttribute("data-column", column);
      select.appendChild(new Option("all", ""));
      filters[column].forEach(function (value) { select.appendChild(new Option(value, value)); });
      select.addEventListener("change", rerun);
      label.appendChild(select);
      box.appendChild(label);
    });
  }

  function currentFilters() {
    var filters = {};
    var selects = document.querySelectorAll(".s2s-filter");
    for (var i = 0; i < selects.length; i++) {
      if (selects[i].value) { filters[selects[i].getAttribute("data-column")] = [selects[i].value]; }
    }
    return filters;
  }

  function readAsDataUrl(blob) {
    return new Promise(function (resolve, reject) {
      var reader = new FileReader();
      reader.onload = function () { resolve(reader.result); };
      reader.onerror = function () { reject(new Error("cannot read the file")); };
      reader.readAsDataURL(blob);
    });
  }

  function loadImage(url) {
    return new Promise(function (resolve, reject) {
      var img = new Image();
      img.onload = function () { resolve(img); };
      img.onerror = function () { reject(new Error("not a picture the browser can show")); };
      img.src = url;
    });
  }

  // A JPEG no larger than MAX_SIDE, as base64; the file as it is when the browser cannot draw it
  // (the server then says what is wrong with it).
  function prepare(file) {
    var url = URL.createObjectURL(file);
    var preview = el("s2s-preview");
    return loadImage(url).then(function (img) {
      preview.src = url;
      preview.hidden = false;
      var scale = Math.min(1, MAX_SIDE / Math.max(img.naturalWidth, img.naturalHeight));
      var canvas = document.createElement("canvas");
      canvas.width = Math.max(1, Math.round(img.naturalWidth * scale));
      canvas.height = Math.max(1, Math.round(img.naturalHeight * scale));
      var context = canvas.getContext("2d");
      context.fillStyle = "#fff";
      context.fillRect(0, 0, canvas.width, canvas.height);
      context.drawImage(img, 0, 0, canvas.width, canvas.height);
      sentSize = { width: canvas.width, height: canvas.height };
      return canvas.toDataURL("image/jpeg", JPEG_QUALITY);
    }, function () {
      preview.hidden = true;
      sentSize = null;
      URL.revokeObjectURL(url);
      return readAsDataUrl(file);
    }).then(function (dataUrl) {
      return String(dataUrl).replace(/^data:[^,]*,/, "");
    });
  }

  function search(imageBase64) {
    lastImage = imageBase64;
    var serial = ++requestSerial;
    setStatus("Searching…", false);
    var body = { image: imageBase64, k: parseInt(el("s2s-k").value, 10) || 12, filters: currentFilters() };
    return getJson(backendUrl("/recommend"), {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body)
    }).then(function (answer) {
      if (serial !== requestSerial) { return; }
      lastAnswer = answer;
      showGarments(answer);
    }).catch(function (err) {
      if (serial !== requestSerial) { return; }
      lastAnswer = null;
      el("s2s-results").textContent = "";
      showGarments(null);
      setStatus(err.message, true);
    });
  }

  // A photo of someone: one answer per garment (answer.garments), each with its box; the shopper
  // picks one with the buttons or by clicking its box. Without garments: today's single answer.
  function showGarments(answer) {
    var garments = (answer && answer.garments) || [];
    var choices = el("s2s-garments");
    choices.textContent = "";
    el("s2s-boxes").textContent = "";
    if (!garments.length) {
      choices.hidden = true;
      if (answer) { choose(""); }
      return;
    }
    var parts = garments.map(function (g) { return g.part; });
    if (chosenPart === null || (chosenPart !== "" && parts.indexOf(chosenPart) < 0)) { chosenPart = parts[0]; }
    garments.forEach(function (garment) {
      var button = make("button", "s2s-garment", PART_NAMES[garment.part] || garment.part);
      button.type = "button";
      button.setAttribute("data-part", garment.part);
      button.addEventListener("click", function () { choose(garment.part); });
      choices.appendChild(button);
    });
    // The largest box first, so the boxes inside it stay on top (and clickable).
    garments.slice().reverse().forEach(drawBox);
    var whole = make("button", "s2s-garment", "Whole photo");
    whole.type = "button";
    whole.setAttribute("data-part", "");
    whole.addEventListener("click", function () { choose(""); });
    choices.appendChild(whole);
    choices.hidden = false;
    choose(chosenPart);
  }

  function drawBox(garment) {
    if (!sentSize || el("s2s-preview").hidden) { return; }
    var b = garment.box;
    var node = make("button", "s2s-box");
    node.type = "button";
    node.setAttribute("data-part", garment.part);
    node.setAttribute("aria-label", PART_NAMES[garment.part] || garment.part);
    node.style.left = (100 * b[0] / sentSize.width) + "%";
    node.style.top = (100 * b[1] / sentSize.height) + "%";
    node.style.width = (100 * (b[2] - b[0]) / sentSize.width) + "%";
    node.style.height = (100 * (b[3] - b[1]) / sentSize.height) + "%";
    node.appendChild(make("span", "s2s-box-label", PART_NAMES[garment.part] || garment.part));
    node.addEventListener("click", function (event) { event.stopPropagation(); choose(garment.part); });
    el("s2s-boxes").appendChild(node);
  }

  function choose(part) {
    var answer = lastAnswer;
    if (!answer) { return; }
    var garment = null;
    (answer.garments || []).forEach(function (g) { if (g.part === part) { garment = g; } });
    chosenPart = (answer.garments && answer.garments.length) ? (garment ? part : "") : null;
    var pressed = document.querySelectorAll(".s2s-garment");
    for (var i = 0; i < pressed.length; i++) {
      pressed[i].setAttribute("aria-pressed", String(pressed[i].getAttribute("data-part") === (garment ? part : "")));
    }
    var boxes = document.querySelectorAll(".s2s-box");
    for (var j = 0; j < boxes.length; j++) {
      boxes[j].classList.toggle("s2s-box-selected", !!garment && boxes[j].getAttribute("data-part") === part);
    }
    var results = garment ? garment.results : (answer.results || []);
    showAttributes(garment ? { attributes: garment.attributes } : (answer.query || {}));
    showResults(results);
    var timing = answer.timing_ms || {};
    var what = garment ? " for the " + (PART_NAMES[part] || part).toLowerCase() : "";
    var found = (answer.garments && answer.garments.length) ? " (" + answer.garments.length + " garments found on the person)" :
      (answer.query && answer.query.segmented ? " (garment cut out)" : "");
    setStatus(results.length + " products" + what + ", answered in " + Math.round(timing.total || 0) + " ms" + found, false);
  }

  function rerun() { if (lastImage) { search(lastImage); } }

  function handleFile(file) {
    if (!file) { return; }
    if (config && file.size > config.max_image_bytes * 4) {
      setStatus("This file is too large (" + Math.round(file.size / 1048576) + " MB).", true);
      return;
    }
    setStatus("Reading the photo…", false);
    chosenPart = null;  // a new photo starts on its first garment
    prepare(file).then(search).catch(function (err) { setStatus(err.message, true); });
  }

  // Attributes predicted for the photo: {model: [{class/label: name, probability/score: p}, ...]}.
  function showAttributes(query) {
    var box = el("s2s-attributes");
    box.textContent = "";
    var attributes = query.attributes || {};
    var models = Object.keys(attributes);
    if (!models.length) { box.hidden = true; return; }
    box.appendChild(make("h2", null, "What we see in your photo"));
    models.forEach(function (model) {
      var parts = (attributes[model] || []).map(function (entry) {
        if (typeof entry !== "object" || entry === null) { return String(entry); }
        var name = null, score = null;
        Object.keys(entry).forEach(function (key) {
          if (name === null && typeof entry[key] === "string") { name = entry[key]; }
          if (score === null && typeof entry[key] === "number") { score = entry[key]; }
        });
        return (name || "?") + (score === null ? "" : " " + Math.round(score * 100) + "%");
      });
      box.appendChild(make("p", "s2s-attribute", model + ": " + parts.join(", ")));
    });
    box.hidden = false;
  }

  function showResults(results) {
    var grid = el("s2s-results");
    grid.textContent = "";
    results.forEach(function (hit) {
      var card = make("article", "s2s-card");
      card.setAttribute("data-product-id", hit.product_id);
      if (config && config.thumbnails) {
        var picture = make("img", "s2s-card-picture");
        picture.loading = "lazy";
        picture.alt = "Product " + hit.product_id;
        picture.src = backendUrl("/thumbnail") + "?image=" + encodeURIComponent(hit.image);
        card.appendChild(picture);
      } else {
        card.appendChild(make("div", "s2s-card-placeholder", hit.image));
      }
      var bodyNode = make("div", "s2s-card-body");
      var title = make("div", "s2s-card-title");
      title.appendChild(make("h3", "s2s-product", hit.product_id));
      title.appendChild(make("span", "s2s-score", Number(hit.score).toFixed(3)));
      bodyNode.appendChild(title);
      var labels = make("ul", "s2s-labels");
      Object.keys(hit.labels || {}).forEach(function (column) {
        var value = hit.labels[column];
        if (value === null || value === undefined || value === "") { return; }
        labels.appendChild(make("li", null, column + ": " + String(value).split("|").join(", ")));
      });
      bodyNode.appendChild(labels);
      card.appendChild(bodyNode);
      grid.appendChild(card);
    });
  }

  function firstImageFile(items) {
    for (var i = 0; items && i < items.length; i++) {
      var item = items[i];
      if (item.kind === "file" && /^image\//.test(item.type)) { return item.getAsFile(); }
    }
    return null;
  }

  function init() {
    var drop = el("s2s-drop");
    ["s2s-file", "s2s-camera"].forEach(function (id) {
      el(id).addEventListener("change", function (event) {
        handleFile(event.target.files && event.target.files[0]);
        event.target.value = "";
      });
    });
    drop.addEventListener("dragover", function (event) { event.preventDefault(); drop.classList.add("s2s-dragging"); });
    drop.addEventListener("dragleave", function () { drop.classList.remove("s2s-dragging"); });
    drop.addEventListener("drop", function (event) {
      event.preventDefault();
      drop.classList.remove("s2s-dragging");
      handleFile(event.dataTransfer.files && event.dataTransfer.files[0]);
    });
    document.addEventListener("paste", function (event) {
      var file = firstImageFile(event.clipboardData && event.clipboardData.items);
      if (file) { event.preventDefault(); handleFile(file); }
    });
    el("s2s-k").addEventListener("change", rerun);
    el("s2s-controls").addEventListener("submit", function (event) { event.preventDefault(); });
    loadConfig();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
}());
