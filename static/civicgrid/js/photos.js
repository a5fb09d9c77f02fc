/*
 * Photos made smaller in the browser before upload, for the forms that take pictures (the resident
 * portal's report, the work-dynamics editor): drawn on a canvas at a bounded size and sent as JPEG
 * where the browser can replace an input's chosen files (DataTransfer); otherwise the originals go
 * and the server deals with them. The server checks everything again either way.
 * Plain ES5 for old in-app browsers (WeChat), no build step. Exposes window.CivicPhotos.
 */
(function (root) {
  "use strict";
  var QUALITY = 0.85;
  var canReplace = false;
  try { canReplace = typeof DataTransfer === "function" && !!new DataTransfer().items && typeof File === "function"; } catch (e) { canReplace = false; }
  var canvasOk = !!(root.URL && URL.createObjectURL && document.createElement("canvas").getContext);

  function toBlob(canvas, done) {
    if (canvas.toBlob) { canvas.toBlob(done, "image/jpeg", QUALITY); return; }
    var data = canvas.toDataURL("image/jpeg", QUALITY).split(",");
    var bytes = atob(data[1]), buf = new Uint8Array(bytes.length);
    for (var i = 0; i < bytes.length; i++) buf[i] = bytes.charCodeAt(i);
    done(new Blob([buf], {type: "image/jpeg"}));
  }

  /* ``file`` made smaller, or ``file`` itself: when it is not a still image (GIFs may be animated),
     already small enough (within the sides and under 1 MB), unreadable (the server says what is
     wrong), or when the JPEG would not be smaller. Sides: ``opts.longSide`` bounds the longer side,
     ``opts.shortSide`` (optional) the shorter one. Transparent areas become white. */
  function shrink(file, opts, done) {
    if (!/^image\/(jpeg|png|webp)$/.test(file.type || "")) { done(file); return; }
    var url = URL.createObjectURL(file);
    var img = new Image();
    img.onload = function () {
      var w = img.naturalWidth || img.width, h = img.naturalHeight || img.height;
      var scale = Math.min(1, opts.longSide / Math.max(w, h));
      if (opts.shortSide) scale = Math.min(scale, opts.shortSide / Math.min(w, h));
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
        var name = (file.name || "photo").replace(/\.[^.]*$/, "") + ".jpg";
        done(new File([blob], name, {type: "image/jpeg", lastModified: Date.now()}));
      });
    };
    img.onerror = function () { URL.revokeObjectURL(url); done(file); };
    img.src = url;
  }

  /* Shrink ``files`` (except those ``opts.keep(file)`` says to send as they are), put the results
     in ``input`` in the same order, then ``done(results)``. Where the browser cannot replace the
     files, ``done(files)`` at once: the originals are sent. */
  function prepare(input, files, opts, done) {
    if (!canReplace || !canvasOk || !files.length) { done(files); return; }
    var out = new Array(files.length), left = files.length;
    files.forEach(function (file, i) {
      var finish = function (result) {
        out[i] = result;
        left -= 1;
        if (left === 0) {
          var dt = new DataTransfer();
          for (var j = 0; j < out.length; j++) dt.items.add(out[j]);
          input.files = dt.files;
          done(out);
        }
      };
      if (opts.keep && opts.keep(file)) finish(file);
      else shrink(file, opts, finish);
    });
  }

  /* Thumbnails with their sizes in ``box`` (a <figure> per file). */
  function showPreviews(box, files) {
    if (!box) return;
    box.innerHTML = "";
    for (var i = 0; i < files.length; i++) {
      var fig = document.createElement("figure");
      if (/^image\//.test(files[i].type || "") && root.URL && URL.createObjectURL) {
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

  root.CivicPhotos = {
    /* true when prepare() will shrink (a synchronous answer: the caller shows a busy state) */
    willShrink: function (files) { return canReplace && canvasOk && files.length > 0; },
    prepare: prepare,
    showPreviews: showPreviews
  };
})(window);
