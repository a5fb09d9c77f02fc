/*
 * Work-dynamics editor: previews of the chosen pictures, made smaller in the browser before upload
 * (canvas, shorter side <= 1600 px, JPEG) where the browser can replace the chosen files
 * (DataTransfer); otherwise the originals are sent and the server makes them smaller. The server
 * checks everything again (format, size, count) and removes the pictures' EXIF data either way.
 * Plain ES5, no build step.
 */
(function () {
  "use strict";
  var form = document.getElementById("post-form");
  if (!form) return;
  var SHORT_SIDE = 1600, LONG_SIDE = 4096, QUALITY = 0.85;
  var maxPictures = parseInt(form.getAttribute("data-max-pictures"), 10) || 9;
  var buttons = form.querySelectorAll("button[type=submit]");
  var busy = 0;
  var canReplace = false;
  try { canReplace = typeof DataTransfer === "function" && !!new DataTransfer().items && typeof File === "function"; } catch (e) { canReplace = false; }
  var canvasOk = !!(window.URL && URL.createObjectURL && document.createElement("canvas").getContext);

  function setBusy(delta) {
    busy += delta;
    for (var i = 0; i < buttons.length; i++) buttons[i].disabled = busy > 0;
    form.setAttribute("aria-busy", busy > 0 ? "true" : "false");
  }

  function toBlob(canvas, done) {
    if (canvas.toBlob) { canvas.toBlob(done, "image/jpeg", QUALITY); return; }
    done(null);
  }

  function shrink(file, done) {
    if (!/^image\/(jpeg|png|webp)$/.test(file.type || "")) { done(file); return; }  // GIFs may be animated
    var url = URL.createObjectURL(file);
    var img = new Image();
    img.onload = function () {
      var w = img.naturalWidth || img.width, h = img.naturalHeight || img.height;
      var scale = Math.min(1, SHORT_SIDE / Math.min(w, h), LONG_SIDE / Math.max(w, h));
      URL.revokeObjectURL(url);
      if (scale >= 1 && file.size < 1024 * 1024) { done(file); return; }
      var canvas = document.createElement("canvas");
      canvas.width = Math.max(1, Math.round(w * scale));
      canvas.height = Math.max(1, Math.round(h * scale));
      var ctx = canvas.getContext("2d");
      ctx.fillStyle = "#fff";
      ctx.fillRect(0, 0, canvas.width, canvas.height);
      ctx.drawImage(img, 0, 0, canvas.width, canvas.height);
      toBlob(canvas, function (blob) {
        if (!blob || blob.size >= file.size) { done(file); return; }
        var name = (file.name || "picture").replace(/\.[^.]*$/, "") + ".jpg";
        done(new File([blob], name, {type: "image/jpeg", lastModified: Date.now()}));
      });
    };
    img.onerror = function () { URL.revokeObjectURL(url); done(file); };  // the server says what is wrong
    img.src = url;
  }

  function showPreviews(box, files) {
    if (!box) return;
    box.innerHTML = "";
    for (var i = 0; i < files.length; i++) {
      var fig = document.createElement("figure");
      if (/^image\//.test(files[i].type || "") && window.URL && URL.createObjectURL) {
        var img = document.createElement("img");
        img.src = URL.createObjectURL(files[i]);
        img.alt = files[i].name;
        fig.appendChild(img);
      }
      var cap = document.createElement("figcaption");
      cap.textContent = Math.max(1, Math.round(files[i].size / 1024)) + " KB";
      fig.appendChild(cap);
      box.appendChild(fig);
    }
  }

  function watch(input, box, limit) {
    if (!input) return;
    input.addEventListener("change", function () {
      var chosen = Array.prototype.slice.call(input.files || []);
      var warning = input.parentNode.querySelector(".too-many");
      if (warning) warning.parentNode.removeChild(warning);
      if (limit && chosen.length > limit) {
        var div = document.createElement("div");
        div.className = "error too-many";
        div.setAttribute("role", "alert");
        div.textContent = form.getAttribute("data-too-many");
        input.parentNode.appendChild(div);
      }
      if (!canReplace || !canvasOk || !chosen.length) { showPreviews(box, chosen); return; }
      var out = new Array(chosen.length), left = chosen.length;
      setBusy(1);
      chosen.forEach(function (file, i) {
        shrink(file, function (result) {
          out[i] = result;
          left -= 1;
          if (left === 0) {
            var dt = new DataTransfer();
            for (var j = 0; j < out.length; j++) dt.items.add(out[j]);
            input.files = dt.files;
            showPreviews(box, out);
            setBusy(-1);
          }
        });
      });
    });
  }

  watch(document.getElementById("id_pictures"), document.getElementById("picture-previews"), maxPictures);
  watch(document.getElementById("id_cover"), null, 0);
  form.addEventListener("submit", function (event) {
    if (busy > 0) { event.preventDefault(); return; }
  });
})();
