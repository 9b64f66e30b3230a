// Face sign-in in the browser: ask the server which way to turn (a challenge it chose), film a short clip while
// prompting, send it to the API with the session's CSRF token, and show the answer with each liveness layer.
(function () {
  var form = document.getElementById("signin");
  var video = document.getElementById("camera");
  var prompt = document.getElementById("prompt");
  var result = document.getElementById("result");
  var start = document.getElementById("start");
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var recordMs = parseFloat(form.dataset.recordS) * 1000;
  var stream = null;

  function say(text) { prompt.textContent = text; }
  function wait(ms) { return new Promise(function (done) { setTimeout(done, ms); }); }

  function api(path, body) {
    return fetch(path, {method: "POST", body: body, credentials: "same-origin",
                        headers: {"X-CSRF-Token": csrf}}).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (json) {
        if (!response.ok) {
          var error = new Error(json.error || json.detail || ("the server answered " + response.status));
          error.status = response.status;
          throw error;
        }
        return json;
      });
    });
  }

  function camera() {
    if (stream) return Promise.resolve(stream);
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      return Promise.reject(new Error("this browser gives no access to a camera (it needs https or localhost)"));
    }
    return navigator.mediaDevices.getUserMedia({video: {width: {ideal: 1280}, height: {ideal: 720}, facingMode: "user"}, audio: false})
      .then(function (s) { stream = s; video.srcObject = s; return s; });
  }

  function record(ms) {
    var types = ["video/webm;codecs=vp8", "video/webm", "video/mp4"];
    var type = types.filter(function (t) { return window.MediaRecorder && MediaRecorder.isTypeSupported(t); })[0];
    if (!type) return Promise.reject(new Error("this browser cannot record video"));
    return new Promise(function (done, fail) {
      var parts = [];
      var recorder = new MediaRecorder(stream, {mimeType: type, videoBitsPerSecond: 4000000});
      recorder.ondataavailable = function (event) { if (event.data.size) parts.push(event.data); };
      recorder.onstop = function () { done(new Blob(parts, {type: type})); };
      recorder.onerror = function (event) { fail(event.error || new Error("recording failed")); };
      recorder.start();
      setTimeout(function () { recorder.stop(); }, ms);
    });
  }

  function item(text) { var li = document.createElement("li"); li.textContent = text; return li; }

  function show(answer) {
    result.hidden = false;
    result.replaceChildren();
    var head = document.createElement("p");
    head.className = "verdict " + (answer.accepted ? "accepted" : "refused");
    head.textContent = answer.accepted ? "Signed in as " + answer.name : "Not signed in";
    result.append(head);
    var score = document.createElement("p");
    score.className = "muted";
    score.textContent = "Match score " + answer.score.toFixed(3) + " (threshold " + answer.threshold.toFixed(3) +
      " for a false match rate of " + answer.target_fmr +
      (answer.fnmr_at_threshold === null ? "" : ", which refuses " + (100 * answer.fnmr_at_threshold).toFixed(1) +
       "% of genuine pairs") + "); " + answer.frames + " frames looked at.";
    result.append(score);
    if (answer.reasons.length) {
      var why = document.createElement("ul");
      answer.reasons.forEach(function (r) { why.append(item(r)); });
      result.append(why);
    }
    var layers = document.createElement("ul");
    layers.className = "layers";
    answer.liveness.layers.forEach(function (layer) {
      var state = layer.passed === true ? "passed" : layer.passed === false ? "failed" : "not run";
      layers.append(item(layer.layer + ": " + state + (layer.reasons.length ? " (" + layer.reasons.join("; ") + ")" : "")));
    });
    result.append(layers);
    result.scrollIntoView({block: "nearest"});
  }

  function problem(error) {
    result.hidden = false;
    result.replaceChildren();
    var p = document.createElement("p");
    p.className = "error";
    p.textContent = (error.status === 429 ? "Locked: " : "Could not sign in: ") + error.message;
    result.append(p);
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var name = form.elements.name.value.trim();
    if (!name) return;
    var person = "/v1/signin/" + encodeURIComponent(name);
    start.disabled = true;
    result.hidden = true;
    var challenge;
    camera()
      .then(function () { return api(person + "/challenge", new FormData()); })
      .then(function (issued) {
        challenge = issued;
        say("Look at the camera");
        return wait(800);
      })
      .then(function () {
        say("Slowly turn your head to your " + challenge.direction.toUpperCase() + ", then back");
        return record(recordMs);
      })
      .then(function (clip) {
        say("Checking…");
        var body = new FormData();
        body.append("capture", clip, clip.type.indexOf("mp4") >= 0 ? "capture.mp4" : "capture.webm");
        body.append("challenge_token", challenge.token);
        return api(person + "/verify", body);
      })
      .then(show, problem)
      .finally(function () { say(""); start.disabled = false; });
  });
})();
