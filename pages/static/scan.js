// Camera scanning on the check-in page (issue 27), as an enhancement only: where the browser
// has the BarcodeDetector API (Chrome and Edge on Android, Safari 17+ on iOS behind a flag,
// ChromeOS, macOS), a button opens the rear camera; a QR code read fills the code input and
// submits the form, and the next page opens the camera again until the clerk stops it.
// Elsewhere nothing changes: the typed code (or a USB/Bluetooth scanner typing it) is the way.
// No library and nothing from another host: the page's CSP allows scripts from this server.
(function () {
  "use strict";
  var KEY = "openday-scan";
  var LAST = "openday-scan-last"; // the code just sent: the same QR still in view is not resent

  function setup() {
    var form = document.querySelector("form.check-in");
    var media = navigator.mediaDevices;
    if (!form || form.dataset.scan || !("BarcodeDetector" in window)) return;
    if (!media || !media.getUserMedia) return;
    form.dataset.scan = "1";
    var input = form.querySelector("#code");
    var button = document.createElement("button");
    var video = document.createElement("video");
    var status = document.createElement("p");
    button.type = "button";
    button.className = "button secondary scan-start";
    button.id = "scan-start";
    button.textContent = "用摄像头扫码";
    video.className = "scan-video";
    video.hidden = true;
    video.muted = true;
    video.setAttribute("playsinline", "");
    status.className = "hint scan-status";
    status.id = "scan-status";
    status.setAttribute("role", "status");
    form.appendChild(button);
    form.appendChild(video);
    form.appendChild(status);
    var stream = null;
    var timer = null;
    var detector = null;

    function stop(keep) {
      if (timer) clearTimeout(timer);
      timer = null;
      if (stream) stream.getTracks().forEach(function (t) { t.stop(); });
      stream = null;
      video.hidden = true;
      button.textContent = "用摄像头扫码";
      if (!keep) sessionStorage.removeItem(KEY);
    }

    function tick() {
      if (!stream) return;
      detector.detect(video).then(function (found) {
        var text = found.length ? String(found[0].rawValue || "") : "";
        if (!text || text === sessionStorage.getItem(LAST)) {
          timer = setTimeout(tick, 150);
          return;
        }
        stop(true);
        sessionStorage.setItem(KEY, "1");
        sessionStorage.setItem(LAST, text);
        input.value = text.slice(0, 40);
        status.textContent = "已识别：" + input.value;
        if (form.requestSubmit) form.requestSubmit(); else form.submit();
      }).catch(function () { timer = setTimeout(tick, 400); });
    }

    function start() {
      BarcodeDetector.getSupportedFormats().then(function (formats) {
        if (formats.indexOf("qr_code") < 0) throw new Error("no qr_code");
        detector = new BarcodeDetector({ formats: ["qr_code"] });
        return media.getUserMedia({ video: { facingMode: "environment" }, audio: false });
      }).then(function (s) {
        stream = s;
        video.srcObject = s;
        video.hidden = false;
        button.textContent = "停止扫码";
        status.textContent = "请将二维码对准摄像头";
        return video.play();
      }).then(tick).catch(function () {
        stop(false);
        status.textContent = "无法使用摄像头扫码，请输入签到码";
      });
    }

    button.addEventListener("click", function () {
      if (stream) stop(false); else start();
    });
    if (sessionStorage.getItem(KEY)) start();
  }

  setup();
  document.addEventListener("htmx:load", setup);
})();
