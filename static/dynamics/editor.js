/*
 * Work-dynamics editor: previews of the chosen pictures, made smaller in the browser before upload
 * by CivicPhotos (civicgrid/js/photos.js: shorter side <= 1600 px, JPEG) where the browser can;
 * otherwise the originals are sent and the server makes them smaller. The server checks
 * everything again (format, size, count) and removes the pictures' EXIF data either way.
 * Plain ES5, no build step.
 */
(function () {
  "use strict";
  var form = document.getElementById("post-form");
  if (!form) return;
  var SIDES = {shortSide: 1600, longSide: 4096};
  var maxPictures = parseInt(form.getAttribute("data-max-pictures"), 10) || 9;
  var buttons = form.querySelectorAll("button[type=submit]");
  var busy = 0;

  function setBusy(delta) {
    busy += delta;
    for (var i = 0; i < buttons.length; i++) buttons[i].disabled = busy > 0;
    form.setAttribute("aria-busy", busy > 0 ? "true" : "false");
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
      var shrinking = CivicPhotos.willShrink(chosen);
      if (shrinking) setBusy(1);
      CivicPhotos.prepare(input, chosen, SIDES, function (out) {
        CivicPhotos.showPreviews(box, out);
        if (shrinking) setBusy(-1);
      });
    });
  }

  watch(document.getElementById("id_pictures"), document.getElementById("picture-previews"), maxPictures);
  watch(document.getElementById("id_cover"), null, 0);
  form.addEventListener("submit", function (event) {
    if (busy > 0) { event.preventDefault(); return; }
  });
})();
