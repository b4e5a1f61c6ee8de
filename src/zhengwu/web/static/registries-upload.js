// Registries ingestion upload with a progress bar: the form is sent with XMLHttpRequest (upload
// progress in bytes), and while the server ingests, /api/v1/registries/uploads/{job} is polled for the
// rows read so far. Without JavaScript the form posts normally.
(function () {
  "use strict";
  var form = document.getElementById("upload-form");
  if (!form || !window.FormData || !window.XMLHttpRequest) { return; }
  var box = document.getElementById("upload-status");
  var bar = document.getElementById("upload-progress");
  var text = document.getElementById("upload-text");
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var job = form.elements.job.value;
    var button = form.querySelector("button[type=submit]");
    button.disabled = true;
    box.hidden = false;
    text.textContent = "正在上传……";
    var timer = null;
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.upload.onprogress = function (e) {
      if (e.lengthComputable) {
        bar.max = e.total;
        bar.value = e.loaded;
        text.textContent = "正在上传：" + Math.round(100 * e.loaded / e.total) + "%";
      }
    };
    xhr.upload.onload = function () {
      bar.removeAttribute("value");
      text.textContent = "上传完成，正在校验并入库……";
      timer = window.setInterval(function () {
        fetch("/api/v1/registries/uploads/" + encodeURIComponent(job), { credentials: "same-origin" })
          .then(function (r) { return r.json(); })
          .then(function (p) {
            if (p.known && !p.done) { text.textContent = "正在校验并入库：已读入 " + p.rows_read.toLocaleString() + " 行"; }
          })
          .catch(function () { /* keep waiting: the answer of the upload itself ends the wait */ });
      }, 700);
    };
    xhr.onload = function () {
      if (timer) { window.clearInterval(timer); }
      document.open();
      document.write(xhr.responseText);
      document.close();
    };
    xhr.onerror = function () {
      if (timer) { window.clearInterval(timer); }
      button.disabled = false;
      text.textContent = "上传失败，请检查网络后重试";
    };
    xhr.send(new FormData(form));
  });
})();
